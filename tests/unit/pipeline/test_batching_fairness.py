"""Fair sharing (issue 25): lanes in weighted round-robin, so a heavy caller's backlog does not starve a light one,
and a lane past its share of the queue is slowed with a 429 while others still get in."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway.errors import RateLimited
from gateway.pipeline.batching import CALLER, MicroBatcher


def _slow(batches: list[list[str]]) -> MicroBatcher[str, str]:
    def fn(items: list[str]) -> list[str]:
        batches.append(list(items))
        time.sleep(0.01)
        return items

    return MicroBatcher(fn, name="t", max_size=16, max_wait_s=0.0, max_queued_items=4096)


def test_when_a_heavy_lane_has_a_backlog_then_a_light_request_is_in_the_next_batches() -> None:
    batches: list[list[str]] = []
    batcher = _slow(batches)

    async def main() -> int:
        heavy = asyncio.ensure_future(batcher.submit([f"h{i}" for i in range(800)], lane="heavy"))
        await asyncio.sleep(0.03)  # the heavy backlog is being worked through
        assert await batcher.submit(["light"], lane="light") == ["light"]
        done_at = len(batches)
        await heavy
        return done_at

    try:
        done_at = asyncio.run(main())
    finally:
        batcher.close()
    light_batch = next(i for i, b in enumerate(batches) if "light" in b)
    assert len(batches) >= 50 and light_batch <= 8  # FIFO would put it after all 50 heavy batches
    assert done_at <= light_batch + 2


def test_when_lanes_are_weighted_then_batches_are_shared_by_weight() -> None:
    batches: list[list[str]] = []

    def fn(items: list[str]) -> list[str]:
        batches.append(list(items))
        return items

    weights = {"gold": 3.0, "bronze": 1.0}
    batcher: MicroBatcher[str, str] = MicroBatcher(fn, name="t", max_size=16, max_wait_s=0.05,
                                                   lane_weight=lambda lane: weights.get(lane, 1.0))

    async def main() -> None:
        await asyncio.gather(batcher.submit([f"g{i}" for i in range(64)], lane="gold"),
                             batcher.submit([f"b{i}" for i in range(64)], lane="bronze"))

    try:
        asyncio.run(main())
    finally:
        batcher.close()
    first = batches[0]
    gold = sum(item.startswith("g") for item in first)
    assert len(first) == 16 and gold == 12  # three quarters of the batch


def test_when_a_lane_passes_its_share_then_it_gets_429_and_another_lane_still_gets_in() -> None:
    def fn(items: list[str]) -> list[str]:
        time.sleep(0.2)
        return items

    batcher: MicroBatcher[str, str] = MicroBatcher(fn, name="t", max_size=4, max_wait_s=0.0, max_queued_items=100)

    async def main() -> None:
        first = asyncio.ensure_future(batcher.submit(["x"] * 60, lane="heavy"))
        other = asyncio.ensure_future(batcher.submit(["y"] * 10, lane="light"))
        await asyncio.sleep(0.01)
        with pytest.raises(RateLimited) as info:  # 56+ queued, share 100 * 1/2 = 50
            await batcher.submit(["x"] * 10, lane="heavy")
        assert info.value.retry_after == 1.0
        assert await batcher.submit(["z"], lane="third") == ["z"]
        first.cancel()
        other.cancel()

    try:
        asyncio.run(main())
    finally:
        batcher.close()


async def _as(caller: str, batcher: MicroBatcher[str, str], items: list[str], lane: str) -> list[str]:
    """``submit`` as ``caller`` would (the guard sets ``CALLER`` for the request)."""
    CALLER.set(caller)
    return await batcher.submit(items, lane=lane)


def test_when_one_key_of_a_tenant_has_a_backlog_then_another_key_of_the_same_tenant_is_in_the_next_batches() -> None:
    batches: list[list[str]] = []
    batcher = _slow(batches)

    async def main() -> None:
        heavy = asyncio.ensure_future(_as("key-heavy", batcher, [f"h{i}" for i in range(800)], "acme"))
        await asyncio.sleep(0.03)
        assert await asyncio.ensure_future(_as("key-light", batcher, ["light"], "acme")) == ["light"]
        await heavy

    try:
        asyncio.run(main())
    finally:
        batcher.close()
    light_batch = next(i for i, b in enumerate(batches) if "light" in b)
    assert len(batches) >= 50 and light_batch <= 8  # one queue per tenant would put it after all 50 heavy batches


def test_when_a_tenant_sends_through_many_keys_then_it_gets_its_tenant_share_not_one_share_per_key() -> None:
    batches: list[list[str]] = []

    def fn(items: list[str]) -> list[str]:
        batches.append(list(items))
        return items

    batcher: MicroBatcher[str, str] = MicroBatcher(fn, name="t", max_size=16, max_wait_s=0.05)

    async def main() -> None:
        await asyncio.gather(*(asyncio.ensure_future(_as(f"k{k}", batcher, [f"a{k}-{i}" for i in range(64)], "acme"))
                               for k in range(3)),
                             asyncio.ensure_future(_as("k0", batcher, [f"b{i}" for i in range(64)], "beta")))

    try:
        asyncio.run(main())
    finally:
        batcher.close()
    first = batches[0]
    assert len(first) == 16 and sum(item.startswith("b") for item in first) == 8  # half: beta's weight is acme's
