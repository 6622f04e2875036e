import threading

from gateway.embedder import CoreShare


def test_when_a_pass_runs_alone_then_it_gets_every_core_and_when_two_overlap_then_one_each() -> None:
    calls: list[int] = []
    share = CoreShare(2, calls.append)
    with share.share() as alone:
        pass
    with share.share() as first, share.share() as second:
        pass
    with share.share() as again:
        pass
    assert (alone, first, second, again) == (2, 2, 1, 2)
    assert calls == [2, 2, 1, 2]


def test_when_cores_is_zero_then_torch_is_left_alone() -> None:
    calls: list[int] = []
    with CoreShare(0, calls.append).share() as threads:
        pass
    assert threads == 0 and calls == []


def test_when_passes_overlap_on_many_threads_then_the_count_returns_to_zero() -> None:
    share = CoreShare(8, lambda n: None)
    seen: list[int] = []
    barrier = threading.Barrier(4)

    def work() -> None:
        with share.share() as n:
            seen.append(n)
            barrier.wait(5)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert min(seen) >= 2 and max(seen) <= 8
    with share.share() as alone:
        assert alone == 8
