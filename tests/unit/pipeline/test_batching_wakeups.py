"""Workers are woken one at a time, and only when they could start a batch: no work is ever left waiting for a
wake-up that never comes, with or without the express worker, one worker or several, whatever ``join_min``."""

from __future__ import annotations

import asyncio
import random
import threading
import time

import pytest

from gateway.pipeline.batching import CALLER, MicroBatcher


@pytest.mark.parametrize(("express", "workers", "join_min"), [(1, 1, 1), (1, 2, 8), (0, 2, 8), (2, 3, 4)])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_when_many_callers_submit_at_random_then_every_request_is_answered(
    express: int, workers: int, join_min: int, seed: int
) -> None:
    rng = random.Random(seed)  # the callers' choices; the batches' durations vary freely

    def fn(items: list[str]) -> list[str]:
        time.sleep(random.uniform(0.0005, 0.004))  # timing jitter
        return items

    batcher: MicroBatcher[str, str] = MicroBatcher(fn, name="t", max_size=32, max_wait_s=0.0, workers=workers,
                                                   join_min=join_min, express_max_size=express)

    async def client(i: int) -> None:
        CALLER.set(f"key-{i % 3}")
        for j in range(40):
            size = rng.choice([1, 1, 1, 2, 5])
            items = [f"{i}-{j}-{k}" for k in range(size)]
            # A lost wake-up leaves a request waiting until some other request happens to wake a worker.
            assert await asyncio.wait_for(batcher.submit(items, lane=f"tenant-{i % 2}"), 5) == items
            if rng.random() < 0.3:
                await asyncio.sleep(rng.uniform(0, 0.003))

    async def main() -> None:
        await asyncio.gather(*(client(i) for i in range(32)))

    try:
        asyncio.run(main())
    finally:
        batcher.close()
    assert batcher.stats.items == sum(batcher.stats.sizes)


def test_when_a_worker_is_busy_and_too_little_waits_to_join_then_the_idle_one_stays_asleep() -> None:
    started = threading.Event()
    release = threading.Event()
    calls: list[int] = []

    def fn(items: list[str]) -> list[str]:
        calls.append(len(items))
        if len(calls) == 1:
            started.set()
            release.wait(5)
        return items

    batcher: MicroBatcher[str, str] = MicroBatcher(fn, name="t", max_size=32, max_wait_s=0.0, workers=2, join_min=8)

    async def main() -> list[list[str]]:
        first = asyncio.ensure_future(batcher.submit(["a"]))
        await asyncio.to_thread(started.wait, 5)
        rest = [asyncio.ensure_future(batcher.submit([f"b{i}"])) for i in range(3)]  # fewer than join_min
        await asyncio.sleep(0.05)
        assert calls == [1]  # the idle worker did not take 3 texts beside the running batch
        release.set()
        return [await first, *[await r for r in rest]]

    try:
        assert asyncio.run(main()) == [["a"], ["b0"], ["b1"], ["b2"]]
    finally:
        batcher.close()
    assert calls[0] == 1 and sum(calls) == 4
