"""What the micro-batcher does when its callers give up (the request time limit cancels them)."""

import asyncio
import threading

from gateway.pipeline.batching import MicroBatcher


def test_when_a_queued_caller_is_cancelled_then_its_items_never_reach_the_model() -> None:
    release = threading.Event()
    seen: list[list[int]] = []

    def gated(items: list[int]) -> list[int]:
        seen.append(list(items))
        release.wait(5)
        return items

    batcher: MicroBatcher[int, int] = MicroBatcher(gated, name="t", max_size=1, max_wait_s=0.0)

    async def main() -> list[int]:
        first = asyncio.ensure_future(batcher.submit([1]))  # occupies the worker
        await asyncio.sleep(0.05)
        try:
            async with asyncio.timeout(0.05):
                await batcher.submit([2, 3])  # waits in the queue, then its request times out
        except TimeoutError:
            pass
        release.set()
        return await first

    try:
        assert asyncio.run(main()) == [1]
        batcher.close()  # drains the queue: whatever was still there has run by now
    finally:
        release.set()
        batcher.close()
    assert seen == [[1]]
    assert batcher.queue_depth == 0


def test_when_the_callers_loop_is_closed_then_the_worker_survives() -> None:
    release = threading.Event()

    def gated(items: list[int]) -> list[int]:
        release.wait(5)
        return items

    batcher: MicroBatcher[int, int] = MicroBatcher(gated, name="t", max_wait_s=0.0)

    async def abandon() -> None:
        task = asyncio.ensure_future(batcher.submit([1]))
        await asyncio.sleep(0.05)
        task.cancel()

    try:
        asyncio.run(abandon())  # the loop closes while the worker still holds the batch
        release.set()
        assert asyncio.run(batcher.submit([7])) == [7]
    finally:
        release.set()
        batcher.close()
