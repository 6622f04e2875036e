"""``gateway retention sweep --now`` at the edges of the calendar (attack16, F3: an OverflowError traceback)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.errors import BadRequest
from gateway.policy.loader import load_policy
from gateway.retention.sweep import parse_now, preview


@pytest.mark.parametrize("text", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "0001-01-01T00:00:00Z"])
def test_when_now_overflows_a_date_then_it_is_a_bad_request(text: str) -> None:
    with pytest.raises(BadRequest, match="--now must lie between"):
        parse_now(text)


def test_when_now_is_far_but_inside_the_calendar_then_it_is_taken() -> None:
    assert parse_now("9999-12-31T00:00:00Z") == datetime(9999, 12, 31, tzinfo=UTC)


class _NoCollections:
    def all_collections(self) -> list[object]:
        return []


def test_when_now_is_taken_then_a_preview_computes_without_overflow() -> None:
    policy = load_policy(Path("policy/gateway.yaml"))
    report = preview(_NoCollections(), policy, parse_now("0101-01-01T00:00:00+23:59"))  # type: ignore[arg-type]
    assert report.now.startswith("0100-12-31")
