"""Quota counters in PostgreSQL (``gateway.limits.quotas.QuotaCounter``), shared by every replica, so a limit
holds for the replicas' requests together rather than for each replica's.

Each limit counts in fixed windows (a minute, or a UTC day) in ``quota_windows`` (migration 7). A request adds
its cost to every window it is held to, in one transaction, in a fixed order (no deadlock between replicas); if
any passes its limit the transaction rolls back and the request is refused, so a refused request holds nothing.
A fixed window admits up to twice a per-minute limit across the turn of a minute, where the embedded default's
token bucket does not; windows older than two days are deleted now and then.

The embedded default counts in its one process's memory (``gateway.limits.quotas.QuotaBook``), or, with several
worker processes, the same way in its SQLite database (``backends.sqlite.quotas``).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence

from gateway.backends.postgres.connection import PgDatabase
from gateway.limits.quotas import DAY_S, Check, Reservation, WindowFull, request_checks, token_checks, window_of
from gateway.policy.quotas import Quotas

_ADD = ("INSERT INTO quota_windows (counter, window_start, used) VALUES (%s, %s, %s) ON CONFLICT (counter, "
        "window_start) DO UPDATE SET used = quota_windows.used + EXCLUDED.used RETURNING used")
_PRUNE_EVERY = 1000


class PgQuotaCounter:
    remote = True

    def __init__(self, db: PgDatabase, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock
        self._calls = itertools.count(1)

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
        with self._db.transaction() as conn, conn.cursor() as cur:
            cur.executemany(
                "UPDATE quota_windows SET used = GREATEST(0, used + %s) WHERE counter = %s AND window_start = %s",
                [(tokens - held.tokens, c.counter, w)
                 for c, w in sorted(zip(held.checks, held.windows, strict=True), key=lambda cw: cw[0].counter)],
            )

    def stale(self, tenant: str) -> bool:
        return False  # the counters are in the database: a restart keeps them

    def prime(self, tenant: str) -> None:
        return None

    def _add(self, checks: Sequence[Check], windows: Sequence[int], cost: int, now: float) -> None:
        try:
            with self._db.transaction() as conn:
                for check, window in sorted(zip(checks, windows, strict=True), key=lambda cw: cw[0].counter):
                    row = conn.execute(_ADD, (check.counter, window, cost)).fetchone()
                    used = int(row[0]) if row is not None else cost
                    if used > check.value:
                        raise WindowFull(check, window, used - cost)  # rolls the whole transaction back
                if next(self._calls) % _PRUNE_EVERY == 0:
                    conn.execute("DELETE FROM quota_windows WHERE window_start < %s", (int(now) - 2 * DAY_S,))
        except WindowFull as full:
            raise full.refusal(cost, now) from None


__all__ = ["PgQuotaCounter"]
