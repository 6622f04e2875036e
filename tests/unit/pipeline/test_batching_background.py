"""Background work (a durable job's items, ``BACKGROUND``) is put into small batches while interactive work
arrives, so an interactive caller waits for a small batch in progress, not a job's full one; alone, a job's
batches are full size."""

from __future__ import annotations

import asyncio
import time

import pytest

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


def _recording_batcher(workers: int, express: int) -> tuple[MicroBatcher[str, str], dict[str, list[list[str]]]]:
    """A batcher whose fn records, per worker thread, the batches it ran (10 ms each)."""
    import threading

    ran: dict[str, list[list[str]]] = {}

    def fn(items: list[str]) -> list[str]:
        ran.setdefault(threading.current_thread().name, []).append(list(items))
        time.sleep(0.01)
        return [item.upper() for item in items]

    batcher: MicroBatcher[str, str] = MicroBatcher(fn, name="t", max_size=16, max_wait_s=0.0, workers=workers,
                                                   express_max_size=express)
    return batcher, ran


def test_when_an_express_worker_is_set_then_a_light_lane_is_served_by_it_alone_and_nothing_is_lost() -> None:
    batcher, ran = _recording_batcher(workers=2, express=2)

    async def light() -> list[str]:
        out = []
        for i in range(10):  # one text at a time, as an interactive caller sends them
            out.extend(await batcher.submit([f"l{i}"], lane="light"))
        return out

    async def main() -> tuple[list[str], list[str]]:
        heavy = asyncio.ensure_future(batcher.submit([f"h{i}" for i in range(400)], lane="heavy"))
        await asyncio.sleep(0.005)  # the heavy backlog is queued first
        return await asyncio.gather(heavy, light())

    try:
        heavy_answer, light_answer = asyncio.run(main())
    finally:
        batcher.close()
    assert heavy_answer == [f"H{i}" for i in range(400)] and light_answer == [f"L{i}" for i in range(10)]
    express = [item for batch in ran.get("batcher-t-2", []) for item in batch]
    assert sorted(express) == sorted(f"l{i}" for i in range(10))  # every light text, and only those
    assert all(not item.startswith("l") for name in ("batcher-t-0", "batcher-t-1")
               for batch in ran.get(name, []) for item in batch)
    assert max(len(b) for name in ("batcher-t-0", "batcher-t-1") for b in ran[name]) == 16  # full batches


def test_when_only_busy_lanes_have_work_then_the_express_worker_leaves_it_to_the_others() -> None:
    batcher, ran = _recording_batcher(workers=1, express=2)

    async def main() -> list[list[str]]:
        return await asyncio.gather(batcher.submit([f"a{i}" for i in range(64)], lane="a"),
                                    batcher.submit([f"b{i}" for i in range(64)], lane="b"))

    try:
        answers = asyncio.run(main())
    finally:
        batcher.close()
    assert answers == [[f"A{i}" for i in range(64)], [f"B{i}" for i in range(64)]]
    # A busy lane's last items leave it small; only those can be the express worker's.
    assert sum(len(b) for b in ran.get("batcher-t-1", [])) <= 4
    assert sum(len(b) for b in ran["batcher-t-0"]) >= 124


def test_when_an_express_worker_is_set_then_the_bulk_workers_run_at_a_lower_cpu_priority() -> None:
    import os
    import threading

    niceness: dict[str, int] = {}

    def fn(items: list[str]) -> list[str]:
        niceness[threading.current_thread().name] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        return items

    before = os.getpriority(os.PRIO_PROCESS, 0)
    if before > 14:  # run under nice: the bulk workers' +5 would pass the lowest priority (19) and be capped
        pytest.skip("the test process already runs near the lowest CPU priority")
    batcher: MicroBatcher[str, str] = MicroBatcher(fn, name="t", max_size=4, workers=1, express_max_size=1,
                                                   bulk_nice=5)

    async def main() -> None:
        await batcher.submit(["x"], lane="light")
        await batcher.submit([f"h{i}" for i in range(64)], lane="heavy")

    try:
        asyncio.run(main())
    finally:
        batcher.close()
    assert niceness == {"batcher-t-1": before, "batcher-t-0": before + 5}
    assert os.getpriority(os.PRIO_PROCESS, 0) == before  # the caller's own thread is untouched


def test_when_many_light_lanes_wait_then_the_other_workers_take_them_too() -> None:
    batcher, ran = _recording_batcher(workers=1, express=1)

    async def main() -> list[list[str]]:
        return await asyncio.gather(*(batcher.submit([f"x{i}"], lane=f"lane{i}") for i in range(32)))

    try:
        answers = asyncio.run(main())
    finally:
        batcher.close()
    assert [a[0] for a in answers] == [f"X{i}" for i in range(32)]
    assert max(len(b) for b in ran["batcher-t-0"]) > 1  # more small lanes than the express batch: batched together
