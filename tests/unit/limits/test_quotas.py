"""The quota book: per-minute buckets and per-day counters of keys and tenants, held, settled and given back."""

from __future__ import annotations

import pytest

from gateway.errors import RateLimited
from gateway.limits.quotas import DAY_S, QuotaBook
from gateway.limits.rate import RateLimiter
from gateway.policy.quotas import Limits, Quotas

KEY, OTHER = "0123456789abcdef", "fedcba9876543210"


def book(now: list[float]) -> QuotaBook:
    return QuotaBook(RateLimiter(clock=lambda: now[0]), clock=lambda: now[0])


def refusal(call: object) -> RateLimited:
    with pytest.raises(RateLimited) as info:
        call()  # type: ignore[operator]
    return info.value


def test_when_the_key_spends_its_tokens_per_minute_then_refused_naming_it_and_the_bucket_refills() -> None:
    now = [1000.0]
    quotas, b = Quotas(key=Limits(tokens_per_minute=60)), book(now)
    b.reserve("acme", KEY, quotas, 50)
    exc = refusal(lambda: b.reserve("acme", KEY, quotas, 20))
    assert (exc.detail["limit"], exc.detail["scope"], exc.status) == ("tokens_per_minute", "key", 429)
    assert exc.retry_after == pytest.approx(10.0)  # 10 tokens short at one token a second
    assert exc.detail["audit"]["limit"] == {"name": "tokens_per_minute", "scope": "key", "value": 60}
    b.reserve("acme", OTHER, quotas, 50)  # another key has its own bucket
    now[0] += 10.0
    b.reserve("acme", KEY, quotas, 20)


def test_when_the_tenant_limit_is_hit_then_every_key_of_it_is_refused_and_the_key_bucket_is_not_charged() -> None:
    now = [0.0]
    quotas, b = Quotas(tenant=Limits(tokens_per_day=100), key=Limits(tokens_per_minute=1000)), book(now)
    b.reserve("acme", KEY, quotas, 70)
    exc = refusal(lambda: b.reserve("acme", OTHER, quotas, 40))
    assert (exc.detail["limit"], exc.detail["scope"]) == ("tokens_per_day", "tenant")
    assert exc.retry_after == pytest.approx(DAY_S)  # at 00:00 UTC of the next day
    b.reserve("globex", OTHER, quotas, 40)  # another tenant's day is its own
    b.reserve("acme", OTHER, quotas, 30)  # the refused request held nothing
    now[0] += DAY_S
    b.reserve("acme", OTHER, quotas, 100)


def test_when_a_request_is_settled_or_cancelled_then_the_held_estimate_becomes_its_real_count() -> None:
    now = [0.0]
    quotas, b = Quotas(key=Limits(tokens_per_day=100)), book(now)
    held = b.reserve("acme", KEY, quotas, 60)
    b.settle(held, 40)  # embedded fewer tokens than estimated: 60 left
    cancelled = b.reserve("acme", KEY, quotas, 60)
    b.settle(cancelled, 0)  # failed before embedding: all given back
    b.reserve("acme", KEY, quotas, 60)
    assert refusal(lambda: b.reserve("acme", KEY, quotas, 1)).detail["limit"] == "tokens_per_day"


def test_when_a_request_alone_exceeds_a_minute_then_it_waits_a_full_minute_and_says_it_never_fits() -> None:
    exc = refusal(lambda: book([0.0]).reserve("acme", KEY, Quotas(key=Limits(tokens_per_minute=10)), 11))
    assert exc.retry_after == 60.0 and "more than the limit allows in a window" in exc.message


def test_when_requests_per_minute_are_spent_then_the_key_and_then_the_tenant_limit_refuse() -> None:
    now = [0.0]
    b = book(now)
    quotas = Quotas(tenant=Limits(requests_per_minute=3), key=Limits(requests_per_minute=2))
    b.admit_request("acme", KEY, quotas)
    b.admit_request("acme", KEY, quotas)
    assert refusal(lambda: b.admit_request("acme", KEY, quotas)).detail["scope"] == "key"
    b.admit_request("acme", OTHER, quotas)
    assert refusal(lambda: b.admit_request("acme", OTHER, quotas)).detail["scope"] == "tenant"
    b.admit_request("globex", OTHER, quotas)


def test_when_quotas_set_no_key_rate_then_the_rate_limit_setting_applies_to_the_key() -> None:
    b = book([0.0])
    b.admit_request("acme", KEY, Quotas(), key_rpm=1)
    exc = refusal(lambda: b.admit_request("acme", KEY, Quotas(), key_rpm=1))
    assert (exc.detail["limit"], exc.detail["scope"]) == ("requests_per_minute", "key")


def test_when_a_new_book_starts_then_the_day_counters_resume_from_the_recorded_usage() -> None:
    """A restart: the day's spend recorded before it (usage rows) is counted, once, from the first request."""
    from gateway.limits.usage import Usage

    now, reads = [DAY_S * 20_000 + 3600.0], []
    day = "2024-10-04"  # the UTC day of now

    def recorded(tenant: str, asked: str) -> list[Usage]:
        reads.append((tenant, asked))
        return [Usage(tenant, KEY, "m1", asked, 400, 3), Usage(tenant, KEY, "m2", asked, 80, 1),
                Usage(tenant, OTHER, "m1", asked, 15, 1)] if tenant == "acme" else []

    quotas = Quotas(key=Limits(tokens_per_day=500), tenant=Limits(tokens_per_day=600))
    b = QuotaBook(RateLimiter(clock=lambda: now[0]), clock=lambda: now[0], recorded=recorded)
    assert b.stale("acme")
    b.prime("acme")
    assert not b.stale("acme") and reads == [("acme", day)]
    exc = refusal(lambda: b.reserve("acme", KEY, quotas, 21))  # 480 of 500 spent before the restart
    assert (exc.detail["limit"], exc.detail["scope"]) == ("tokens_per_day", "key")
    b.reserve("acme", KEY, quotas, 20)
    exc = refusal(lambda: b.reserve("acme", OTHER, quotas, 90))  # tenant: 515 of 600 spent
    assert exc.detail["scope"] == "tenant"
    b.prime("acme")  # a second seed of the day is ignored (nothing counted twice)
    b.reserve("acme", OTHER, quotas, 85)
    b.reserve("globex", "a" * 16, quotas, 500)  # reserve seeds by itself when not primed: nothing recorded there
    assert reads[-1] == ("globex", day)
    now[0] += DAY_S  # the next day: read again, a fresh day's rows
    assert b.stale("acme")
    b.reserve("acme", KEY, quotas, 20)
    assert reads[-1][1] == "2024-10-05"


def test_when_a_request_held_before_midnight_settles_after_it_then_the_new_days_count_is_kept() -> None:
    now = [DAY_S * 20_000 - 1.0]
    quotas, b = Quotas(key=Limits(tokens_per_day=100)), book(now)
    held = b.reserve("acme", KEY, quotas, 10)
    now[0] += 2.0  # the next UTC day
    b.reserve("acme", KEY, quotas, 90)
    b.settle(held, 12)  # yesterday's window: today's 90 stay counted
    exc = refusal(lambda: b.reserve("acme", KEY, quotas, 11))
    assert exc.detail["limit"] == "tokens_per_day"
