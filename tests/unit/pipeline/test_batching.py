import asyncio
import threading

import pytest

from gateway.errors import Overloaded
from gateway.pipeline.batching import MicroBatcher


def test_when_requests_arrive_together_then_they_share_one_batch() -> None:
    calls: list[list[int]] = []

    def double(items: list[int]) -> list[int]:
        calls.append(list(items))
        return [i * 2 for i in items]

    batcher: MicroBatcher[int, int] = MicroBatcher(double, name="t", max_size=64, max_wait_s=0.05)

    async def main() -> list[list[int]]:
        return await asyncio.gather(*(batcher.submit([i, i + 100]) for i in range(10)))

    try:
        results = asyncio.run(main())
    finally:
        batcher.close()
    assert results == [[i * 2, (i + 100) * 2] for i in range(10)]
    assert len(calls) < 10  # coalesced


def test_when_a_request_exceeds_the_batch_size_then_it_is_split_and_reassembled_in_order() -> None:
    sizes: list[int] = []

    def ident(items: list[int]) -> list[int]:
        sizes.append(len(items))
        return items

    batcher: MicroBatcher[int, int] = MicroBatcher(ident, name="t", max_size=8, max_wait_s=0.0)
    try:
        out = asyncio.run(batcher.submit(list(range(30))))
    finally:
        batcher.close()
    assert out == list(range(30))
    assert max(sizes) <= 8


def test_when_the_weight_budget_is_reached_then_the_batch_closes() -> None:
    sizes: list[int] = []

    def ident(items: list[int]) -> list[int]:
        sizes.append(len(items))
        return items

    batcher: MicroBatcher[int, int] = MicroBatcher(ident, name="t", max_size=100, max_weight=10, max_wait_s=0.0)
    try:
        out = asyncio.run(batcher.submit(list(range(6)), [4] * 6))
    finally:
        batcher.close()
    assert out == list(range(6))
    assert max(sizes) <= 2


def test_when_the_function_fails_then_every_caller_gets_the_error() -> None:
    def boom(items: list[int]) -> list[int]:
        raise RuntimeError("model failed")

    batcher: MicroBatcher[int, int] = MicroBatcher(boom, name="t", max_size=4, max_wait_s=0.0)

    async def main() -> list[object]:
        return await asyncio.gather(batcher.submit(list(range(10))), batcher.submit([1]), return_exceptions=True)

    try:
        results = asyncio.run(main())
    finally:
        batcher.close()
    assert all(isinstance(r, RuntimeError) for r in results)
    assert batcher.queue_depth == 0


def test_when_the_queue_is_full_then_submit_fails_fast_with_overloaded() -> None:
    gate = threading.Event()

    def slow(items: list[int]) -> list[int]:
        gate.wait(5)
        return items

    batcher: MicroBatcher[int, int] = MicroBatcher(slow, name="t", max_size=2, max_wait_s=0.0, max_queued_items=4)

    async def main() -> None:
        first = asyncio.ensure_future(batcher.submit([1, 2]))
        await asyncio.sleep(0.05)  # the worker holds the first batch
        second = asyncio.ensure_future(batcher.submit([3, 4, 5, 6]))
        await asyncio.sleep(0.01)
        with pytest.raises(Overloaded) as info:
            await batcher.submit([7])
        assert info.value.retry_after is not None
        gate.set()
        assert await first == [1, 2]
        assert await second == [3, 4, 5, 6]

    try:
        asyncio.run(main())
    finally:
        gate.set()
        batcher.close()


def test_when_two_workers_finish_slices_of_one_request_out_of_order_then_results_keep_input_order() -> None:
    first_started = threading.Event()
    release_first = threading.Event()
    threads: set[str] = set()

    def slow_first(items: list[int]) -> list[int]:
        threads.add(threading.current_thread().name)
        if items[0] == 0:  # the first slice waits until the second slice has finished on the other worker
            first_started.set()
            release_first.wait(5)
        else:
            first_started.wait(5)
            release_first.set()
        return [i * 10 for i in items]

    batcher: MicroBatcher[int, int] = MicroBatcher(slow_first, name="t", max_size=4, max_wait_s=0.0, workers=2)
    try:
        out = asyncio.run(batcher.submit(list(range(8))))
    finally:
        batcher.close()
    assert out == [i * 10 for i in range(8)]
    assert len(threads) == 2


def test_when_many_callers_share_several_workers_then_each_gets_its_own_results() -> None:
    batcher: MicroBatcher[int, int] = MicroBatcher(lambda items: [-i for i in items], name="t", max_size=3,
                                                   max_wait_s=0.0, workers=3)

    async def main() -> list[list[int]]:
        return await asyncio.gather(*(batcher.submit(list(range(n, n + 5))) for n in range(0, 200, 5)))

    try:
        results = asyncio.run(main())
    finally:
        batcher.close()
    assert results == [[-i for i in range(n, n + 5)] for n in range(0, 200, 5)]
    assert batcher.stats.items == 200
