"""Quota counters in the data dir's SQLite database (``gateway.limits.quotas.QuotaCounter``), for the embedded
default's several worker processes (``workers`` above 1), so that a limit holds for their requests together rather
than for each process's. One process keeps counting in memory (``QuotaBook``), which needs no write per request.

As ``backends.postgres.quotas``: fixed windows (a minute, or a UTC day) in ``quota_windows``; a request adds its
cost to every window it is held to in one transaction (``BEGIN IMMEDIATE``: the processes' counts serialize) and
if any passes its limit the transaction rolls back, so a refused request holds nothing. A fixed window admits up
to twice a per-minute limit across the turn of a minute; windows older than two days are deleted now and then.
The day's windows live in the database, so a restart keeps the day's spend.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence

from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.backends.sqlite.store_rows import transaction
from gateway.limits.quotas import DAY_S, Check, Reservation, WindowFull, request_checks, token_checks, window_of
from gateway.policy.quotas import Quotas

SCHEMA = """
CREATE TABLE IF NOT EXISTS quota_windows (
    counter TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    used INTEGER NOT NULL,
    PRIMARY KEY (counter, window_start)
);
"""
_ADD = ("INSERT INTO quota_windows (counter, window_start, used) VALUES (?, ?, ?) ON CONFLICT (counter, "
        "window_start) DO UPDATE SET used = used + excluded.used RETURNING used")
_PRUNE_EVERY = 1000


class SQLiteQuotaCounter:
    remote = True  # a write transaction with an fsync: off the event loop

    def __init__(self, db: SQLiteDatabase, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock
        self._calls = itertools.count(1)
        db().executescript(SCHEMA)

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
        with transaction(self._db()) as conn:
            conn.executemany(
                "UPDATE quota_windows SET used = max(0, used + ?) WHERE counter = ? AND window_start = ?",
                [(tokens - held.tokens, c.counter, w) for c, w in zip(held.checks, held.windows, strict=True)],
            )

    def stale(self, tenant: str) -> bool:
        return False  # the counters are in the database: a restart keeps them

    def prime(self, tenant: str) -> None:
        return None

    def _add(self, checks: Sequence[Check], windows: Sequence[int], cost: int, now: float) -> None:
        try:
            with transaction(self._db()) as conn:
                for check, window in zip(checks, windows, strict=True):
                    row = conn.execute(_ADD, (check.counter, window, cost)).fetchone()
                    used = int(row[0]) if row is not None else cost
                    if used > check.value:
                        raise WindowFull(check, window, used - cost)  # rolls the whole transaction back
                if next(self._calls) % _PRUNE_EVERY == 0:
                    conn.execute("DELETE FROM quota_windows WHERE window_start < ?", (int(now) - 2 * DAY_S,))
        except WindowFull as full:
            raise full.refusal(cost, now) from None


__all__ = ["SQLiteQuotaCounter"]
