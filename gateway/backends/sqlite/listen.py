"""One thread per worker process that polls the shared database's change sequence and wakes its followers.

SQLite has no NOTIFY: each poll reads the sequence's high-water mark (one row of ``sqlite_sequence``, microseconds)
and calls every callback only when it moved since the last successful round, so an idle gateway costs one tiny
read per interval. The callbacks read the database themselves (the mark is a wakeup, never the source of truth).
A follower that fails is retried at the next poll. The counterpart of ``backends.postgres.listen``.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Mapping

from gateway.backends.sqlite.store_rows import last_seq

log = logging.getLogger(__name__)


class Listener:
    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        callbacks: Mapping[str, Callable[[], object]],
        *,
        poll_interval_s: float = 0.5,
    ) -> None:
        self._connect = connect
        self._callbacks = dict(callbacks)
        self._interval = poll_interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-listener", daemon=True)
        self.wakeups = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._interval + 5)

    def _run(self) -> None:
        seen = -1
        while not self._stop.wait(self._interval):
            try:
                top = last_seq(self._connect())
            except sqlite3.Error as exc:  # e.g. busy past the timeout: the next poll tries again
                log.warning("change listener could not read the change sequence (%s)", type(exc).__name__)
                continue
            if top != seen and self._fire():
                seen = top

    def _fire(self) -> bool:
        """Run every callback; True when all succeeded (else the next poll runs them again)."""
        self.wakeups += 1
        ok = True
        for topic, callback in self._callbacks.items():
            try:
                callback()
            except Exception:  # one failing follower must not stop the others, nor the listener
                log.exception("change follower %s failed", topic)
                ok = False
        return ok
