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

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.backends.sqlite.store_rows import transaction
from gateway.limits.windows import WindowedCounter

SCHEMA = """
CREATE TABLE IF NOT EXISTS quota_windows (
    counter TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    used INTEGER NOT NULL,
    PRIMARY KEY (counter, window_start)
);
"""


class SQLiteQuotaCounter(WindowedCounter):
    """``BEGIN IMMEDIATE`` transactions: the worker processes' counts serialize (``gateway.limits.windows``)."""

    ADD_SQL = ("INSERT INTO quota_windows (counter, window_start, used) VALUES (?, ?, ?) ON CONFLICT (counter, "
               "window_start) DO UPDATE SET used = used + excluded.used RETURNING used")
    SETTLE_SQL = "UPDATE quota_windows SET used = max(0, used + ?) WHERE counter = ? AND window_start = ?"
    PRUNE_SQL = "DELETE FROM quota_windows WHERE window_start < ?"

    def __init__(self, db: SQLiteDatabase, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self._db = db
        db().executescript(SCHEMA)

    def _transaction(self) -> AbstractContextManager[Any]:
        return transaction(self._db())


__all__ = ["SQLiteQuotaCounter"]
