"""The quotas of the policy (``gateway.policy.quotas``), enforced: requests per minute at admission, tokens per
minute and per day before anything is embedded.

Tokens are the model's word pieces of the request's inputs. A request is admitted only if every limit that applies
(the key's and the tenant's) can take its estimate (the token count of its normalized texts); the estimate is held,
then settled to the tokens actually embedded (a redaction changes the count), or given back when the request fails
before embedding. Per minute is a token bucket (``gateway.limits.rate``), per day a counter per UTC day.

The counters are this process's: on PostgreSQL each replica enforces the limits on its own, so N replicas admit up
to N times a limit in total (``docs/policy.md``, "Quotas").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.errors import RateLimited
from gateway.limits.rate import RateLimiter
from gateway.policy.quotas import Limits, Quotas

DAY_S = 86_400


@dataclass(frozen=True)
class Reservation:
    """Tokens held for one request under its key's and tenant's limits (all None: nothing held)."""

    tenant: str
    key_id: str
    key: Limits
    tenant_limits: Limits
    tokens: int
    day: int


def exceeded(limit: str, scope: str, value: int, wait: float, why: str) -> RateLimited:
    """The refusal: its body names the limit and whose it is; the audit entry records both."""
    return RateLimited(
        f"{limit} quota of the {scope} exceeded (limit {value}): {why}", param=limit, retry_after=wait,
        detail={"limit": limit, "scope": scope,
                "audit": {"limit": {"name": limit, "scope": scope, "value": value}}},
    )


class DayCounters:
    """Tokens used per id in the current UTC day; bounded (ids of past days are dropped as the day turns)."""

    def __init__(self) -> None:
        self._used: dict[str, tuple[int, int]] = {}  # id -> (day number, tokens)

    def used(self, ident: str, day: int) -> int:
        held = self._used.get(ident)
        return held[1] if held is not None and held[0] == day else 0

    def add(self, ident: str, day: int, tokens: int) -> None:
        if ident not in self._used and len(self._used) >= 100_000:
            self._used = {k: v for k, v in self._used.items() if v[0] == day}
        self._used[ident] = (day, max(0, self.used(ident, day) + tokens))


class QuotaBook:
    def __init__(self, limiter: RateLimiter | None = None, clock: Callable[[], float] = time.time) -> None:
        self._limiter = limiter if limiter is not None else RateLimiter()
        self._clock = clock  # wall time: a day is a UTC day
        self._days = DayCounters()
        self._lock = threading.Lock()

    def admit_request(self, tenant: str, key_id: str, quotas: Quotas, key_rpm: int | None = None) -> None:
        """Take one request from the key's and the tenant's per-minute limits, or raise ``RateLimited`` naming
        the first that is spent; ``key_rpm`` is the key limit when ``quotas.key`` sets none (``rate_limit``)."""
        key = quotas.for_key(key_id)
        rpm = key.requests_per_minute or key_rpm
        buckets = ((f"rpm:key:{key_id}", rpm, "key"), (f"rpm:tenant:{tenant}", quotas.tenant.requests_per_minute,
                                                       "tenant"))
        with self._limiter.lock:
            for name, per_minute, scope in buckets:
                wait = self._limiter.shortfall(name, per_minute, 1.0)
                if wait is not None and per_minute:
                    raise exceeded("requests_per_minute", scope, per_minute, wait, "too many requests")
            for name, per_minute, _ in buckets:
                self._limiter.take(name, per_minute, 1.0)

    def reserve(self, tenant: str, key_id: str, quotas: Quotas, tokens: int) -> Reservation:
        """Hold ``tokens`` under every token limit of the key and the tenant, or raise ``RateLimited``."""
        key = quotas.for_key(key_id)
        now = self._clock()
        day = int(now // DAY_S)
        with self._lock, self._limiter.lock:
            for scope, ident, limits in (("key", key_id, key), ("tenant", tenant, quotas.tenant)):
                tpm = limits.tokens_per_minute
                wait = self._limiter.shortfall(f"tpm:{scope}:{ident}", tpm, float(tokens))
                if wait is not None and tpm:
                    raise exceeded("tokens_per_minute", scope, tpm, wait, _need(tokens, tpm))
                tpd = limits.tokens_per_day
                if tpd and self._days.used(f"{scope}:{ident}", day) + tokens > tpd:
                    left = max(0, tpd - self._days.used(f"{scope}:{ident}", day))
                    raise exceeded("tokens_per_day", scope, tpd, (day + 1) * DAY_S - now,
                                   f"the request has {tokens} tokens, {left} are left today")
            held = Reservation(tenant, key_id, key, quotas.tenant, tokens, day)
            self._charge(held, tokens)
        return held

    def settle(self, held: Reservation, tokens: int) -> None:
        """The request embedded ``tokens``: the held estimate becomes that count (never refused afterwards)."""
        with self._lock, self._limiter.lock:
            self._charge(held, tokens - held.tokens)

    def cancel(self, held: Reservation) -> None:
        """The request failed before embedding: what it held is given back."""
        self.settle(held, 0)

    def _charge(self, held: Reservation, tokens: int) -> None:
        for scope, ident, limits in (("key", held.key_id, held.key), ("tenant", held.tenant, held.tenant_limits)):
            self._limiter.take(f"tpm:{scope}:{ident}", limits.tokens_per_minute, float(tokens))
            if limits.tokens_per_day:
                self._days.add(f"{scope}:{ident}", held.day, tokens)


def _need(tokens: int, per_minute: int) -> str:
    if tokens > per_minute:
        return f"the request alone has {tokens} tokens, more than the limit allows in a minute"
    return f"the request has {tokens} tokens"
