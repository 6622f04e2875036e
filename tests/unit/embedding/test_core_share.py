import threading
from pathlib import Path

from gateway.embedding.embedder import CoreShare
from gateway.pipeline.cpus import available_cpus


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


def test_when_a_cgroup_quota_limits_cpu_then_available_cpus_rounds_it_up_and_caps_the_cpu_set(
    tmp_path: Path,
) -> None:
    cpu_max = tmp_path / "cpu.max"
    cpu_set = available_cpus(tmp_path / "absent")
    cpu_max.write_text("150000 100000\n")
    assert available_cpus(cpu_max) == min(2, cpu_set)
    cpu_max.write_text("max 100000\n")
    assert available_cpus(cpu_max) == cpu_set
    cpu_max.write_text("garbage\n")
    assert available_cpus(cpu_max) == cpu_set
    cpu_max.write_text("1000 100000\n")  # a hundredth of a core still gets one thread
    assert available_cpus(cpu_max) == 1
