"""Quota counters kept in a database in fixed windows (``gateway.limits.quotas.QuotaCounter``): what the
PostgreSQL replicas' counter (``backends.postgres.quotas``) and the SQLite workers' (``backends.sqlite.quotas``)
do alike; each backend gives its transaction and its dialect's statements.

Each limit counts in fixed windows (a minute, or a UTC day) in ``quota_windows``. A request adds its cost to every
window it is held to, in one transaction, in a fixed order (the counter's name: no deadlock between processes); if
any passes its limit the transaction rolls back and the request is refused, so a refused request holds nothing. A
fixed window admits up to twice a per-minute limit across the turn of a minute, where the single process's token
bucket (``QuotaBook``) does not; windows older than two days are deleted now and then. The windows live in the
database, so a restart keeps the day's spend.
"""

from __future__ import annotations

import itertools
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from gateway.limits.quotas import DAY_S, Check, Reservation, WindowFull, request_checks, token_checks, window_of
from gateway.policy.quotas import Quotas

PRUNE_EVERY = 1000  # calls between two deletions of windows older than two days


class WindowedCounter(ABC):
    remote = True  # a database transaction: off the event loop

    # Each backend's statements, in its placeholder style: add a cost to a window, returning the window's total;
    # change a window's count (never below 0); delete windows that began before a time.
    ADD_SQL: str
    SETTLE_SQL: str
    PRUNE_SQL: str

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._calls = itertools.count(1)

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[Any]:
        """One transaction on a connection whose ``execute(sql, params)`` returns a cursor."""

    def admit_request(self, tenant: str, key_id: str, quotas: Quotas, key_rpm: int | None = None) -> None:
        checks = request_checks(tenant, key_id, quotas, key_rpm)
        if checks:
            now = self._clock()
            self._add(checks, [window_of(c, now) for c in checks], 1, now)

    def reserve(self, tenant: str, key_id: str, quotas: Quotas, tokens: int) -> Reservation:
        checks = token_checks(tenant, key_id, quotas)
        now = self._clock()
        windows = [window_of(c, now) for c in checks]
        if checks:
            self._add(checks, windows, tokens, now)
        return Reservation(tuple(checks), tuple(windows), tokens)

    def settle(self, held: Reservation, tokens: int) -> None:
        if tokens == held.tokens or not held.checks:
            return
        with self._transaction() as conn:
            for check, window in _ordered(held.checks, held.windows):
                conn.execute(self.SETTLE_SQL, (tokens - held.tokens, check.counter, window))

    def stale(self, tenant: str) -> bool:
        return False  # the counters are in the database: a restart keeps them

    def prime(self, tenant: str) -> None:
        return None

    def _add(self, checks: Sequence[Check], windows: Sequence[int], cost: int, now: float) -> None:
        try:
            with self._transaction() as conn:
                for check, window in _ordered(checks, windows):
                    row = conn.execute(self.ADD_SQL, (check.counter, window, cost)).fetchone()
                    used = int(row[0]) if row is not None else cost
                    if used > check.value:
                        raise WindowFull(check, window, used - cost)  # rolls the whole transaction back
                if next(self._calls) % PRUNE_EVERY == 0:
                    conn.execute(self.PRUNE_SQL, (int(now) - 2 * DAY_S,))
        except WindowFull as full:
            raise full.refusal(cost, now) from None


def _ordered(checks: Sequence[Check], windows: Sequence[int]) -> list[tuple[Check, int]]:
    return sorted(zip(checks, windows, strict=True), key=lambda cw: cw[0].counter)
