"""Quota counters in a database (``gateway.limits.windows``), on both backends: two processes (two counters, each
with its own connections, on one database: PostgreSQL replicas, or SQLite workers on one file) are held to one
limit together, a refused request holds nothing, and a restart keeps the day's spend."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gateway.backends.postgres.connection import PgDatabase
from gateway.backends.postgres.migrations import upgrade
from gateway.backends.postgres.quotas import PgQuotaCounter
from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.backends.sqlite.quotas import SQLiteQuotaCounter
from gateway.errors import RateLimited
from gateway.limits.quotas import DAY_S
from gateway.limits.windows import WindowedCounter
from gateway.policy.quotas import Limits, Quotas
from tests.unit.backends.postgres.pgkit import TempSchema

KEY, OTHER = "0123456789abcdef", "fedcba9876543210"
NOON = 20_000 * DAY_S + DAY_S / 2 + 30  # a clock at 12:00:30 UTC: 30 s into a minute

Start = Callable[[], WindowedCounter]  # one more process on the same database, its clock at ``now[0]``


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def now_and_start(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[list[float], Start]]:
    now = [NOON]
    if request.param == "sqlite":
        yield now, lambda: SQLiteQuotaCounter(SQLiteDatabase(tmp_path / "store.db"), clock=lambda: now[0])
        return
    schema = TempSchema(name=f"quotas_{uuid.uuid4().hex[:12]}")
    pools: list[PgDatabase] = []

    def start() -> WindowedCounter:
        pools.append(PgDatabase(schema.url, max_size=8))
        upgrade(pools[-1])
        return PgQuotaCounter(pools[-1], clock=lambda: now[0])

    try:
        yield now, start
    finally:
        for pool in pools:
            pool.close()
        schema.drop()


def refusal(call: Callable[[], object]) -> RateLimited:
    with pytest.raises(RateLimited) as info:
        call()
    return info.value


def test_when_two_processes_spend_a_keys_tokens_per_minute_then_the_limit_holds_for_both_together(
    now_and_start: tuple[list[float], Start],
) -> None:
    now, start = now_and_start
    a, b = start(), start()
    quotas = Quotas(key=Limits(tokens_per_minute=30))
    a.reserve("acme", KEY, quotas, 20)
    exc = refusal(lambda: b.reserve("acme", KEY, quotas, 20))
    assert (exc.detail["limit"], exc.detail["scope"]) == ("tokens_per_minute", "key")
    assert exc.retry_after == pytest.approx(30.0)  # the minute's window ends in 30 s
    b.reserve("acme", KEY, quotas, 10)  # the refused request held nothing
    b.reserve("acme", OTHER, quotas, 30)  # another key counts on its own
    now[0] += 30
    a.reserve("acme", KEY, quotas, 30)  # a new minute


def test_when_a_held_estimate_is_settled_then_the_shared_window_keeps_the_real_count(
    now_and_start: tuple[list[float], Start],
) -> None:
    _, start = now_and_start
    a, b = start(), start()
    quotas = Quotas(tenant=Limits(tokens_per_day=100))
    held = a.reserve("acme", KEY, quotas, 80)
    a.settle(held, 50)
    b.settle(b.reserve("acme", OTHER, quotas, 50), 50)
    exc = refusal(lambda: a.reserve("acme", KEY, quotas, 1))
    assert (exc.detail["limit"], exc.detail["scope"]) == ("tokens_per_day", "tenant")
    assert exc.retry_after == pytest.approx(DAY_S / 2 - 30)  # at the next 00:00 UTC
    a.settle(held, 0)  # given back: the request failed before embedding
    b.reserve("acme", OTHER, quotas, 50)


def test_when_processes_admit_requests_then_key_and_tenant_requests_per_minute_hold_in_total(
    now_and_start: tuple[list[float], Start],
) -> None:
    _, start = now_and_start
    a, b = start(), start()
    quotas = Quotas(tenant=Limits(requests_per_minute=3), key=Limits(requests_per_minute=2))
    a.admit_request("acme", KEY, quotas)
    b.admit_request("acme", KEY, quotas)
    assert refusal(lambda: a.admit_request("acme", KEY, quotas)).detail["scope"] == "key"
    b.admit_request("acme", OTHER, quotas)
    assert refusal(lambda: a.admit_request("acme", OTHER, quotas)).detail["scope"] == "tenant"
    b.admit_request("acme", OTHER, Quotas(), key_rpm=5)  # no tenant limit, the rate_limit setting for the key


def test_when_many_threads_on_two_processes_race_for_a_limit_then_exactly_the_limit_is_admitted(
    now_and_start: tuple[list[float], Start],
) -> None:
    _, start = now_and_start
    counters = start(), start()
    quotas = Quotas(key=Limits(tokens_per_day=50))
    admitted: list[int] = []

    def work(counter: WindowedCounter) -> None:
        for _ in range(20):
            try:
                counter.reserve("acme", KEY, quotas, 1)
                admitted.append(1)
            except RateLimited:
                pass

    threads = [threading.Thread(target=work, args=(counters[i % 2],)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(admitted) == 50


def test_when_the_gateway_restarts_then_a_spent_daily_quota_stays_spent(
    now_and_start: tuple[list[float], Start],
) -> None:
    _, start = now_and_start
    quotas = Quotas(key=Limits(tokens_per_day=500), tenant=Limits(tokens_per_day=900))
    counter = start()
    assert not counter.stale("acme")  # nothing to seed: the counters are in the database
    counter.reserve("acme", KEY, quotas, 480)
    again = start()  # the next process: its own connections, the same database
    exc = refusal(lambda: again.reserve("acme", KEY, quotas, 21))
    assert (exc.detail["limit"], exc.detail["scope"]) == ("tokens_per_day", "key")
    assert exc.retry_after == pytest.approx(DAY_S / 2 - 30)
    again.reserve("acme", KEY, quotas, 20)
