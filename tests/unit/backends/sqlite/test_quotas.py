"""Quota counters in the embedded database: two worker processes (two counters, each with its own connections, on
one file) are held to one limit together."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.backends.sqlite.quotas import SQLiteQuotaCounter
from gateway.errors import RateLimited
from gateway.limits.quotas import DAY_S
from gateway.policy.quotas import Limits, Quotas

KEY, OTHER = "0123456789abcdef", "fedcba9876543210"
NOON = 20_000 * DAY_S + DAY_S / 2 + 30  # a clock at 12:00:30 UTC: 30 s into a minute


def workers(path: Path, now: list[float]) -> tuple[SQLiteQuotaCounter, SQLiteQuotaCounter]:
    return (SQLiteQuotaCounter(SQLiteDatabase(path), clock=lambda: now[0]),
            SQLiteQuotaCounter(SQLiteDatabase(path), clock=lambda: now[0]))


def refusal(call: Callable[[], object]) -> RateLimited:
    with pytest.raises(RateLimited) as info:
        call()
    return info.value


def test_when_two_workers_spend_a_keys_tokens_per_minute_then_the_limit_holds_for_both_together(
    tmp_path: Path,
) -> None:
    now = [NOON]
    a, b = workers(tmp_path / "store.db", now)
    quotas = Quotas(key=Limits(tokens_per_minute=30))
    a.reserve("acme", KEY, quotas, 20)
    exc = refusal(lambda: b.reserve("acme", KEY, quotas, 20))
    assert (exc.detail["limit"], exc.detail["scope"]) == ("tokens_per_minute", "key")
    assert exc.retry_after == pytest.approx(30.0)  # the minute's window ends in 30 s
    b.reserve("acme", KEY, quotas, 10)  # the refused request held nothing
    b.reserve("acme", OTHER, quotas, 30)  # another key counts on its own
    now[0] += 30
    a.reserve("acme", KEY, quotas, 30)  # a new minute


def test_when_a_held_estimate_is_settled_then_the_shared_day_keeps_the_real_count_across_a_restart(
    tmp_path: Path,
) -> None:
    now = [NOON]
    a, b = workers(tmp_path / "store.db", now)
    quotas = Quotas(tenant=Limits(tokens_per_day=100))
    held = a.reserve("acme", KEY, quotas, 80)
    a.settle(held, 50)
    b.settle(b.reserve("acme", OTHER, quotas, 50), 50)
    restarted, _ = workers(tmp_path / "store.db", now)
    exc = refusal(lambda: restarted.reserve("acme", KEY, quotas, 1))
    assert (exc.detail["limit"], exc.detail["scope"]) == ("tokens_per_day", "tenant")
    assert exc.retry_after == pytest.approx(DAY_S / 2 - 30)  # at the next 00:00 UTC


def test_when_workers_admit_requests_then_requests_per_minute_hold_in_total(tmp_path: Path) -> None:
    now = [NOON]
    a, b = workers(tmp_path / "store.db", now)
    quotas = Quotas(tenant=Limits(requests_per_minute=3))
    a.admit_request("acme", KEY, quotas)
    b.admit_request("acme", OTHER, quotas)
    a.admit_request("acme", OTHER, quotas)
    assert refusal(lambda: b.admit_request("acme", KEY, quotas)).detail["limit"] == "requests_per_minute"
