"""Quota counters in PostgreSQL (``gateway.limits.quotas.QuotaCounter``), shared by every replica, so a limit
holds for the replicas' requests together rather than for each replica's: fixed windows in ``quota_windows``
(migration 7), counted as ``gateway.limits.windows`` says.

The embedded default counts in its one process's memory (``gateway.limits.quotas.QuotaBook``), or, with several
worker processes, the same way in its SQLite database (``backends.sqlite.quotas``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from gateway.backends.postgres.connection import PgDatabase
from gateway.limits.windows import WindowedCounter


class PgQuotaCounter(WindowedCounter):
    ADD_SQL = ("INSERT INTO quota_windows (counter, window_start, used) VALUES (%s, %s, %s) ON CONFLICT (counter, "
               "window_start) DO UPDATE SET used = quota_windows.used + EXCLUDED.used RETURNING used")
    SETTLE_SQL = "UPDATE quota_windows SET used = GREATEST(0, used + %s) WHERE counter = %s AND window_start = %s"
    PRUNE_SQL = "DELETE FROM quota_windows WHERE window_start < %s"

    def __init__(self, db: PgDatabase, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self._db = db

    def _transaction(self) -> AbstractContextManager[Any]:
        return self._db.transaction()


__all__ = ["PgQuotaCounter"]
