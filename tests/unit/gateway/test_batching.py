import asyncio
import threading

import pytest

from gateway.batching import MicroBatcher
from gateway.errors import Overloaded


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
