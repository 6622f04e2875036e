"""EmbeddingPipeline.detect across its two lanes (short texts, long texts) with a real long-lane MicroBatcher.

Regression (an outsider's round): a request whose short texts met a full queue was answered 503 at once, while
its long texts stayed queued and were screened afterwards (58 orphaned long texts behind 30 such answers, screened
for 12 s after the last one went out)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, cast

import pytest

from gateway.errors import Overloaded, RateLimited
from gateway.pii.detector_types import LONG_TEXT
from gateway.pipeline.batching import MicroBatcher
from gateway.pipeline.stages import EmbeddingPipeline


class _FullQueue:
    """The short lane's batcher with its queue full: ``submit`` refuses at once, as MicroBatcher does."""

    async def submit(self, items: Any, weights: Any = None, lane: str = "") -> list[Any]:
        raise Overloaded("the pii queue is full; retry shortly", retry_after=1.0)


def test_when_the_short_lane_refuses_then_the_requests_long_texts_leave_the_long_lane() -> None:
    release = threading.Event()
    screened: list[str] = []

    def screen(items: list[Any]) -> list[list[Any]]:
        release.wait(10)
        screened.extend(text for text, *_ in items)
        return [[] for _ in items]

    long_lane: MicroBatcher[Any, Any] = MicroBatcher(screen, name="pii-long", max_size=1)
    pipeline = EmbeddingPipeline(cast(Any, None), cast(Any, _FullQueue()), long_lane, cast(Any, None),
                                 cast(Any, None), 10 * LONG_TEXT, cast(Any, None), cast(Any, None), cast(Any, None))

    async def scenario() -> int:
        busy = asyncio.ensure_future(long_lane.submit([("busy" * LONG_TEXT, None, None)], lane="other"))
        await asyncio.sleep(0.05)  # the long lane's worker is inside ``screen`` with another tenant's text
        with pytest.raises(Overloaded):
            await pipeline.detect(["short", "x" * LONG_TEXT, "y" * LONG_TEXT], cast(Any, None), "acme")
        depth = long_lane.queue_depth
        release.set()
        await busy
        return depth

    try:
        assert asyncio.run(scenario()) == 0
    finally:
        long_lane.close()
    assert all(not text.startswith(("x", "y")) for text in screened)


def test_when_one_lane_alone_filled_the_queue_then_another_lane_within_its_share_still_gets_in() -> None:
    """Regression: one tenant's four 2,048-text requests filled the 8,192-item queue alone (never over its share,
    being the only lane), and another tenant's 400-text request got 503 instead of a turn."""
    gate = threading.Event()

    def slow(items: list[str]) -> list[str]:
        gate.wait(10)
        return items

    batcher: MicroBatcher[str, str] = MicroBatcher(slow, name="t", max_size=4, max_wait_s=0.0, max_queued_items=100)

    async def main() -> None:
        heavy = asyncio.ensure_future(batcher.submit(["h"] * 100, lane="heavy"))
        await asyncio.sleep(0.05)  # the worker holds 4; 96 queued, all the heavy lane's
        light = asyncio.ensure_future(batcher.submit(["l"] * 20, lane="light"))  # share 100 * 1/2 = 50
        await asyncio.sleep(0.01)
        with pytest.raises(RateLimited):  # the heavy lane is now past its share
            await batcher.submit(["h"] * 10, lane="heavy")
        gate.set()
        assert await light == ["l"] * 20
        assert await heavy == ["h"] * 100

    try:
        asyncio.run(main())
    finally:
        gate.set()
        batcher.close()
