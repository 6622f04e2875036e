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
        problem = connection_problem(url, max(1, int(timeout_s)))  # at start: say why at once, not after a wait
        if problem is not None:
            raise DatabaseUnavailable("the database is unavailable; try again shortly", retry_after=1.0,
                                      problem=problem)
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


# libpq's reasons for a refused connection, in the operator's words: its own text names the host, role and
# database, and the gateway's output names none of them (a log collector may keep what a command prints).
_REFUSALS = (
    (("database \"", "does not exist"), "the database that database_url names does not exist (create it, or fix "
                                        "the name)"),
    (("role \"", "does not exist"), "the role (user) that database_url names does not exist on that server"),
    (("password authentication failed",), "the server refused the password of that role"),
    (("no password supplied",), "the server asks for a password and database_url gives none"),
    (("no pg_hba.conf entry",), "the server's pg_hba.conf admits no connection from this host for that role and "
                                "database"),
    (("Connection refused",), "nothing listens at the host and port that database_url names"),
    (("resolve host",), "the host that database_url names does not resolve"),
    (("could not translate host name",), "the host that database_url names does not resolve"),
    (("timeout expired",), "the host that database_url names did not answer in time"),
)


def connection_problem(url: str, timeout_s: int = 5) -> str | None:
    """Why a connection to ``url`` is refused, in the gateway's words (no name, host or password from the URL),
    or None when one opens now."""
    try:
        psycopg.connect(url, connect_timeout=timeout_s).close()
    except psycopg.Error as exc:
        text = str(exc)
        return next((reason for needles, reason in _REFUSALS if all(n in text for n in needles)),
                    f"the connection failed ({type(exc).__name__})")
    return None
