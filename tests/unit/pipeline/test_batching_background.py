"""Background work (a durable job's items, ``BACKGROUND``) is put into small batches while interactive work
arrives, so an interactive caller waits for a small batch in progress, not a job's full one; alone, a job's
batches are full size."""

from __future__ import annotations

import asyncio
import time

from gateway.pipeline.batching import BACKGROUND, MicroBatcher


def _batcher(batches: list[list[str]], cap: int) -> MicroBatcher[str, str]:
    def fn(items: list[str]) -> list[str]:
        batches.append(list(items))
        time.sleep(0.005)
        return items

    return MicroBatcher(fn, name="t", max_size=32, max_weight=8192, max_wait_s=0.0, background_max_weight=cap)


async def _job(batcher: MicroBatcher[str, str], count: int) -> list[str]:
    """A job's submission: 200-token chunks, as the job runner marks them."""
    token = BACKGROUND.set(True)
    try:
        return await batcher.submit([f"j{i}" for i in range(count)], weights=[200] * count, lane="bulk")
    finally:
        BACKGROUND.reset(token)


def test_when_a_job_runs_alone_then_its_batches_are_full_size() -> None:
    batches: list[list[str]] = []
    batcher = _batcher(batches, cap=1024)
    try:
        asyncio.run(_job(batcher, 128))
    finally:
        batcher.close()
    assert max(len(b) for b in batches) == 32


def test_when_interactive_work_arrives_then_a_jobs_batches_hold_at_most_the_cap() -> None:
    batches: list[list[str]] = []
    batcher = _batcher(batches, cap=1024)

    async def main() -> None:
        await batcher.submit(["hello"], weights=[3], lane="interactive")  # interactive work in the last 2 s
        job = asyncio.ensure_future(_job(batcher, 128))
        await asyncio.sleep(0.02)
        assert await batcher.submit(["hi"], weights=[3], lane="interactive") == ["hi"]
        assert len(await job) == 128  # nothing of the job is lost

    try:
        asyncio.run(main())
    finally:
        batcher.close()
    job_sizes = [sum(item.startswith("j") for item in b) for b in batches]
    assert max(job_sizes) == 5  # 5 chunks of 200 tokens (1,000) fit under the 1,024 cap; a sixth would not
    assert any("hi" in b for b in batches)


def test_when_the_cap_is_zero_then_a_job_fills_batches_beside_interactive_work() -> None:
    batches: list[list[str]] = []
    batcher = _batcher(batches, cap=0)

    async def main() -> None:
        await batcher.submit(["hello"], weights=[3], lane="interactive")
        await _job(batcher, 128)

    try:
        asyncio.run(main())
    finally:
        batcher.close()
    assert max(len(b) for b in batches) == 32


def test_when_interactive_items_share_a_batch_then_they_are_not_held_back_by_the_cap() -> None:
    batches: list[list[str]] = []

    def fn(items: list[str]) -> list[str]:
        batches.append(list(items))
        return items

    batcher: MicroBatcher[str, str] = MicroBatcher(fn, name="t", max_size=32, max_wait_s=0.05,
                                                   background_max_weight=400)

    async def main() -> None:
        await asyncio.gather(_job(batcher, 16),
                             batcher.submit([f"i{i}" for i in range(16)], weights=[200] * 16, lane="interactive"))

    try:
        asyncio.run(main())
    finally:
        batcher.close()
    first = batches[0]
    assert sum(item.startswith("i") for item in first) == 16  # interactive items fill the batch past the cap
    assert sum(item.startswith("j") for item in first) <= 2


def test_when_an_express_worker_is_set_then_it_only_takes_small_batches_and_nothing_is_lost() -> None:
    import threading

    sizes: dict[str, list[int]] = {}

    def fn(items: list[str]) -> list[str]:
        sizes.setdefault(threading.current_thread().name, []).append(len(items))
        time.sleep(0.01)
        return [item.upper() for item in items]

    batcher: MicroBatcher[str, str] = MicroBatcher(fn, name="t", max_size=16, max_wait_s=0.0, workers=2,
                                                   express_max_size=2)

    async def main() -> list[list[str]]:
        return await asyncio.gather(batcher.submit([f"h{i}" for i in range(200)], lane="heavy"),
                                    *(batcher.submit([f"l{i}"], lane="light") for i in range(10)))

    try:
        answers = asyncio.run(main())
    finally:
        batcher.close()
    assert answers[0] == [f"H{i}" for i in range(200)] and [a[0] for a in answers[1:]] == [f"L{i}" for i in range(10)]
    assert max(sizes.get("batcher-t-1", []), default=0) <= 2  # the express worker
    assert max(sizes["batcher-t-0"]) == 16  # the other keeps full batches
