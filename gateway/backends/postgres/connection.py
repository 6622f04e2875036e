"""A psycopg connection pool whose failures speak the gateway's error tree.

Every statement runs inside ``PgDatabase.transaction()``: a pooled connection, one transaction, committed on
success and rolled back on any error. A database that is down, restarting or unreachable surfaces as
``Unavailable`` (HTTP 503) instead of a crash; the pool checks each connection as it lends it and opens new
ones in the background, so the gateway recovers on its own when the database is back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool, PoolTimeout

from gateway.errors import DatabaseUnavailable

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "gateway_"


class PgDatabase:
    """One pool per process for the database named by ``url`` (a libpq URI; ``options`` may set search_path)."""

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 8, timeout_s: float = 5.0) -> None:
        self.url = url
        self._pool = ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout_s,
            open=False,
            check=ConnectionPool.check_connection,
            reconnect_timeout=0,  # keep trying for ever: the database may be down for a while
            name="gateway",
        )
        self._pool.open(wait=False)

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[TupleRow]]:
        """A connection in one transaction; ``Unavailable`` when the database cannot be reached."""
        try:
            with self._pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            # The message names only the class: libpq's text may carry the host and user.
            log.warning("database unavailable: %s", type(exc).__name__)
            raise DatabaseUnavailable("the database is unavailable; try again shortly", retry_after=1.0) from exc

    def notify(self, conn: psycopg.Connection[TupleRow], topic: str) -> None:
        """Wake the replicas listening on ``topic`` when the current transaction commits."""
        conn.execute("SELECT pg_notify(%s, current_schema())", (CHANNEL_PREFIX + topic,))

    def close(self) -> None:
        self._pool.close()
