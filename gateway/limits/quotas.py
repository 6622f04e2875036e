"""The quotas of the policy (``gateway.policy.quotas``), enforced: requests per minute at admission, tokens per
minute and per day before anything is embedded.

Tokens are the model's word pieces of the request's inputs. A request is admitted only if every limit that applies
(the key's and the tenant's) can take its estimate (the token count of its normalized texts); the estimate is held,
then settled to the tokens actually embedded (a redaction changes the count), or given back when the request fails
before embedding.

Two counters keep the spend (``QuotaCounter``): ``QuotaBook`` here, in the process's memory (the embedded default,
one process: per minute a token bucket, ``gateway.limits.rate``, per day a counter per UTC day, seeded from the
durable usage table the first time a tenant's day is counted, so that a restart never hands out a fresh day), and
``backends.postgres.quotas`` / ``backends.sqlite.quotas`` in the database, where the replicas' (or the embedded
default's worker processes') requests count together (fixed windows of a minute and a UTC day). ``docs/policy.md``,
"Quotas", says what each guarantees.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from gateway.errors import RateLimited
from gateway.limits.rate import RateLimiter
from gateway.limits.usage import Usage
from gateway.policy.quotas import Quotas

DAY_S = 86_400
MINUTE_S = 60


@dataclass(frozen=True)
class Check:
    """One limit a request is held to: ``limit`` (``tokens_per_minute``...) of ``scope`` (key or tenant)."""

    limit: str
    scope: str
    ident: str  # "key:<key id>" or "tenant:<tenant>": whose counter
    value: int

    @property
    def counter(self) -> str:
        return f"{self.limit}:{self.ident}"


@dataclass(frozen=True)
class Reservation:
    """Tokens held for one request under the token limits ``checks``, in the windows that began at ``windows``."""

    checks: tuple[Check, ...]
    windows: tuple[int, ...]
    tokens: int


class QuotaCounter(Protocol):
    remote: bool  # across the network (PostgreSQL): called off the event loop

    def admit_request(self, tenant: str, key_id: str, quotas: Quotas, key_rpm: int | None = None) -> None:
        """Count one request under the requests-per-minute limits, or raise ``RateLimited`` naming one."""
        ...

    def reserve(self, tenant: str, key_id: str, quotas: Quotas, tokens: int) -> Reservation:
        """Hold ``tokens`` under every token limit of the key and the tenant, or raise ``RateLimited``."""
        ...

    def settle(self, held: Reservation, tokens: int) -> None:
        """The request embedded ``tokens``: the held estimate becomes that count (never refused afterwards)."""
        ...

    def stale(self, tenant: str) -> bool:
        """Whether the tenant's day counters must first be read back (``prime``) from what was recorded."""
        ...

    def prime(self, tenant: str) -> None:
        """Seed the tenant's (and its keys') day counters from the recorded usage; blocking (a database read)."""
        ...


def request_checks(tenant: str, key_id: str, quotas: Quotas, key_rpm: int | None) -> list[Check]:
    """The requests-per-minute limits that apply; ``key_rpm`` (``rate_limit``) where ``quotas.key`` sets none."""
    key = quotas.for_key(key_id).requests_per_minute or key_rpm
    out = [Check("requests_per_minute", "key", f"key:{key_id}", key)] if key else []
    if quotas.tenant.requests_per_minute:
        out.append(Check("requests_per_minute", "tenant", f"tenant:{tenant}", quotas.tenant.requests_per_minute))
    return out


def token_checks(tenant: str, key_id: str, quotas: Quotas) -> list[Check]:
    """The token limits that apply, the key's before the tenant's."""
    out = []
    for scope, ident, limits in (("key", f"key:{key_id}", quotas.for_key(key_id)),
                                 ("tenant", f"tenant:{tenant}", quotas.tenant)):
        for limit in ("tokens_per_minute", "tokens_per_day"):
            value = limits.get(limit)
            if value:
                out.append(Check(limit, scope, ident, value))
    return out


def window_of(check: Check, now: float) -> int:
    """The start of the fixed window ``now`` falls in: its minute, or its UTC day."""
    span = DAY_S if check.limit == "tokens_per_day" else MINUTE_S
    return int(now // span) * span


_DAY = Check("tokens_per_day", "tenant", "", 0)  # only its limit matters to ``window_of``


def _iso_day(window: int) -> str:
    return datetime.fromtimestamp(window, UTC).date().isoformat()


def exceeded(check: Check, wait: float, why: str) -> RateLimited:
    """The refusal: its body names the limit and whose it is; the audit entry records both."""
    return RateLimited(
        f"{check.limit} quota of the {check.scope} exceeded (limit {check.value}): {why}", param=check.limit,
        retry_after=wait, detail={"limit": check.limit, "scope": check.scope,
                                  "audit": {"limit": {"name": check.limit, "scope": check.scope,
                                                      "value": check.value}}},
    )


class WindowFull(Exception):
    """A fixed window of a database counter (``backends.*.quotas``) that cannot take a request's cost; raised inside
    the counting transaction, so that leaving it rolls back everything the request added."""

    def __init__(self, check: Check, window: int, used: int) -> None:
        super().__init__(check.counter)
        self.check, self.window, self.used = check, window, used  # used: before this request's cost

    def refusal(self, cost: int, now: float) -> RateLimited:
        span = DAY_S if self.check.limit == "tokens_per_day" else MINUTE_S
        left = max(0, self.check.value - self.used) if self.check.limit != "requests_per_minute" else None
        return exceeded(self.check, self.window + span - now, why(self.check, cost, left))


def why(check: Check, tokens: int, left: int | None = None) -> str:
    if check.limit == "requests_per_minute":
        return "too many requests"
    if tokens > check.value:
        return f"the request alone has {tokens} tokens, more than the limit allows in a window"
    return f"the request has {tokens} tokens" + (f", {left} are left in this window" if left is not None else "")


class QuotaBook:
    """The counters in this process's memory: exact for one process (the embedded default)."""

    remote = False

    def __init__(self, limiter: RateLimiter | None = None, clock: Callable[[], float] = time.time,
                 recorded: Callable[[str, str], Sequence[Usage]] | None = None) -> None:
        self._limiter = limiter if limiter is not None else RateLimiter()
        self._clock = clock  # wall time: a day is a UTC day
        self._days: dict[str, tuple[int, int]] = {}  # counter -> (day window, tokens)
        self._lock = threading.Lock()
        # recorded(tenant, day): the durable usage rows of a tenant's UTC day (ISO date), which seed its day
        # counters the first time that day is counted in this process: a restart resumes the day, not a new one.
        self._recorded = recorded
        self._seeded: dict[str, int] = {}  # tenant -> the day window its counters were seeded for

    def stale(self, tenant: str) -> bool:
        return self._recorded is not None and self._seeded.get(tenant) != window_of(_DAY, self._clock())

    def prime(self, tenant: str) -> None:
        if self._recorded is None:
            return
        window = window_of(_DAY, self._clock())
        rows = self._recorded(tenant, _iso_day(window))  # read outside the lock; applied only if still unseeded
        with self._lock:
            self._seed(tenant, window, rows)

    def _seed(self, tenant: str, window: int, rows: Sequence[Usage]) -> None:
        """Under ``_lock``: no request of the tenant was charged for ``window`` before it is seeded (``reserve``
        seeds first), so the recorded tokens are the day's spend so far; a second seed of the day is ignored."""
        if self._seeded.get(tenant) == window:
            return
        if len(self._seeded) >= 100_000:
            self._seeded = {t: w for t, w in self._seeded.items() if w >= window}
        per_key: dict[str, int] = {}
        for row in rows:
            per_key[row.key_id] = per_key.get(row.key_id, 0) + row.tokens
        for ident, tokens in [(f"key:{k}", t) for k, t in per_key.items()] + [(f"tenant:{tenant}",
                                                                             sum(per_key.values()))]:
            counter = f"tokens_per_day:{ident}"
            self._days[counter] = (window, self._used(counter, window) + tokens)
        self._seeded[tenant] = window

    def admit_request(self, tenant: str, key_id: str, quotas: Quotas, key_rpm: int | None = None) -> None:
        checks = request_checks(tenant, key_id, quotas, key_rpm)
        with self._limiter.lock:
            for check in checks:
                wait = self._limiter.shortfall(check.counter, check.value, 1.0)
                if wait is not None:
                    raise exceeded(check, wait, why(check, 1))
            for check in checks:
                self._limiter.take(check.counter, check.value, 1.0)

    def reserve(self, tenant: str, key_id: str, quotas: Quotas, tokens: int) -> Reservation:
        checks = tuple(token_checks(tenant, key_id, quotas))
        now = self._clock()
        windows = tuple(window_of(c, now) for c in checks)
        if self._recorded is not None and any(c.limit == "tokens_per_day" for c in checks) and self.stale(tenant):
            rows = self._recorded(tenant, _iso_day(window_of(_DAY, now)))  # rare: the caller did not prime
        else:
            rows = None
        with self._lock, self._limiter.lock:
            if rows is not None:
                self._seed(tenant, window_of(_DAY, now), rows)
            for check, window in zip(checks, windows, strict=True):
                if check.limit == "tokens_per_minute":
                    wait = self._limiter.shortfall(check.counter, check.value, float(tokens))
                    if wait is not None:
                        raise exceeded(check, wait, why(check, tokens))
                elif self._used(check.counter, window) + tokens > check.value:
                    left = max(0, check.value - self._used(check.counter, window))
                    raise exceeded(check, window + DAY_S - now, why(check, tokens, left))
            held = Reservation(checks, windows, tokens)
            self._charge(held, tokens)
        return held

    def settle(self, held: Reservation, tokens: int) -> None:
        with self._lock, self._limiter.lock:
            self._charge(held, tokens - held.tokens)

    def _used(self, counter: str, window: int) -> int:
        held = self._days.get(counter)
        return held[1] if held is not None and held[0] == window else 0

    def _charge(self, held: Reservation, tokens: int) -> None:
        for check, window in zip(held.checks, held.windows, strict=True):
            if check.limit == "tokens_per_minute":
                self._limiter.take(check.counter, check.value, float(tokens))
                continue
            if self._days.get(check.counter, (window, 0))[0] > window:
                continue  # held before midnight, settled after: the new day's count is kept
            if check.counter not in self._days and len(self._days) >= 100_000:  # bounded: past days dropped
                self._days = {k: v for k, v in self._days.items() if v[0] >= window}
            self._days[check.counter] = (window, max(0, self._used(check.counter, window) + tokens))
