"""The PII stage's batchers as the composition root builds them: as many batches at once as the detector screens."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from gateway.observability.metrics import GatewayMetrics
from gateway.pii.detector_types import Finding
from gateway.pii.fake import FakeDetector
from gateway.pipeline.stage_fns import PII_JOIN_MIN, detection_batchers
from gateway.policy.loader import PolicyHolder, ScopePolicy
from gateway.settings import load_settings

POLICY = Path(__file__).resolve().parents[3] / "policy" / "gateway.yaml"


class Meeting(FakeDetector):
    """Returns only once ``parties`` batches are inside ``analyze`` together (else the barrier breaks)."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        self.entered = threading.Event()
        self._barrier = threading.Barrier(parties, timeout=5)

    def analyze(
        self, texts: Sequence[str], scopes: Sequence[ScopePolicy], budget_s: float | None = None
    ) -> list[list[Finding]]:
        self.entered.set()
        self._barrier.wait()
        return super().analyze(texts, scopes, budget_s)


def screen_two_in_turn(threads: int, detector: Meeting, express: int = 0, second: int = PII_JOIN_MIN
                       ) -> tuple[list[list[Finding]], list[list[Finding]]]:
    """The second request (``second`` texts) is sent once the first batch is in the detector, so the two are never
    one batch."""
    policy = PolicyHolder(POLICY)
    scope = policy.current().scope("t")
    settings = load_settings({"GATEWAY_EXPRESS_BATCH_SIZE": str(express)})
    detect, detect_long = detection_batchers(detector, settings, GatewayMetrics(), policy, threads)

    async def main() -> tuple[list[list[Finding]], list[list[Finding]]]:
        first = asyncio.ensure_future(detect.submit([("My SSN is 078-05-1120", scope)], lane="a"))
        assert await asyncio.to_thread(detector.entered.wait, 5)
        try:
            found = await detect.submit([("a clean sentence", scope)] * second, lane="b")
        except BaseException:
            await asyncio.gather(first, return_exceptions=True)  # its failure is read, not logged as lost
            raise
        return await first, found

    try:
        return asyncio.run(main())
    finally:
        detect.close()
        detect_long.close()


def test_when_the_detector_screens_two_batches_at_once_then_the_pii_batcher_sends_them_together() -> None:
    first, second = screen_two_in_turn(2, Meeting(2))
    assert [f.entity_type for f in first[0]] == ["US_SSN"] and second == [[]] * PII_JOIN_MIN


def test_when_fewer_texts_than_the_join_minimum_wait_then_they_wait_for_the_batch_in_progress() -> None:
    """Screened alone beside a batch, a text or two cost twice their CPU in calls of their own (``PII_JOIN_MIN``)."""
    with pytest.raises(threading.BrokenBarrierError):
        screen_two_in_turn(2, Meeting(2), second=PII_JOIN_MIN - 1)


def test_when_the_detector_is_in_process_without_an_express_worker_then_its_batches_run_one_at_a_time() -> None:
    with pytest.raises(threading.BrokenBarrierError):  # the second batch waited for the first: they never met
        screen_two_in_turn(1, Meeting(2))


@pytest.mark.parametrize("threads", [1, 2])
def test_when_an_express_worker_is_set_then_a_light_text_is_screened_beside_a_batch_in_progress(threads: int) -> None:
    first, second = screen_two_in_turn(threads, Meeting(2), express=1, second=1)  # in this process, or a pool of 2
    assert [f.entity_type for f in first[0]] == ["US_SSN"] and second == [[]]


def test_when_an_express_worker_is_set_then_a_pool_keeps_its_process_count() -> None:
    policy = PolicyHolder(POLICY)
    settings = load_settings({"GATEWAY_EXPRESS_BATCH_SIZE": "1"})
    detect, detect_long = detection_batchers(Meeting(1), settings, GatewayMetrics(), policy, 3)
    try:
        assert len(detect._threads) == 3  # two for busy lanes and the express one: one per worker process
    finally:
        detect.close()
        detect_long.close()
