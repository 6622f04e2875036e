"""One thread per replica that wakes on LISTEN/NOTIFY and polls anyway, so a lost notification costs little.

Each topic has a callback; it runs when a notification for this schema arrives and at least every
``poll_interval_s`` (NOTIFY is a wakeup, never the source of truth: the callbacks read the database). That
bounds how stale a replica can be by the poll interval even if notifications are lost, e.g. across a
database restart, after which the listener reconnects with a capped backoff.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from gateway.backends.postgres.connection import CHANNEL_PREFIX

log = logging.getLogger(__name__)
_SLICE_S = 0.2  # how long one wait lasts: bounds how long stop() takes
# Every serving replica's listener holds this lock, shared, for as long as its connection lives; maintenance commands
# that need every replica stopped try it exclusively to find out (gateway.cli.runlock.ensure_no_replica).
REPLICA_LOCK = "hashtext(current_schema() || ':replica')"  # the lock's key: one per schema
REPLICA_PRESENT = f"SELECT pg_advisory_lock_shared({REPLICA_LOCK})"


class Listener:
    def __init__(
        self,
        url: str,
        callbacks: Mapping[str, Callable[[], object]],
        *,
        poll_interval_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._callbacks = dict(callbacks)
        self._interval = poll_interval_s
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-listener", daemon=True)
        self.wakeups = 0
        self.reconnects = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5 * self._interval + 5)

    def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True, connect_timeout=5) as conn:
                    row = conn.execute("SELECT current_schema()").fetchone()
                    schema = str(row[0]) if row else ""
                    conn.execute(REPLICA_PRESENT)
                    for topic in self._callbacks:
                        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL_PREFIX + topic)))
                    backoff = 0.1
                    self._fire(set(self._callbacks))  # catch up on whatever happened while not listening
                    self._loop(conn, schema)
            except psycopg.Error as exc:
                self.reconnects += 1
                log.warning("change listener lost the database (%s); reconnecting", type(exc).__name__)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 2.0)

    def _loop(self, conn: psycopg.Connection[TupleRow], schema: str) -> None:
        last_poll = self._clock()
        while not self._stop.is_set():
            due: set[str] = set()
            for note in conn.notifies(timeout=min(self._interval, _SLICE_S), stop_after=1):
                if note.payload == schema and note.channel.startswith(CHANNEL_PREFIX):
                    due.add(note.channel[len(CHANNEL_PREFIX) :])
            if due:
                self.wakeups += 1
            if self._clock() - last_poll >= self._interval:
                due = set(self._callbacks)
                last_poll = self._clock()
            self._fire(due)

    def _fire(self, topics: set[str]) -> None:
        for topic in topics:
            callback = self._callbacks.get(topic)
            if callback is None:
                continue
            try:
                callback()
            except Exception:  # one failing follower must not stop the others, nor the listener
                log.exception("change follower %s failed", topic)
