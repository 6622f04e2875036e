"""When each API key was last used, to the minute, without a database write per request.

``mark`` notes a successful authentication in memory; ``flush`` writes what changed (one statement per key, only
forward in time) and runs on the gateway's background thread every ``FLUSH_INTERVAL_S`` and at stop, so
``gateway apikey list`` shows a last use at most that old. A key used by several replicas gets the latest.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from gateway.auth.apikeys import ApiKeyRepository

FLUSH_INTERVAL_S = 60.0


class LastUsed:
    def __init__(self, repo: ApiKeyRepository) -> None:
        self._repo = repo
        self._lock = threading.Lock()
        self._pending: dict[str, str] = {}
        self._written: dict[str, str] = {}

    def mark(self, key_id: str, now: datetime | None = None) -> None:
        minute = (now or datetime.now(UTC)).replace(second=0, microsecond=0).isoformat(timespec="seconds")
        with self._lock:
            if self._written.get(key_id) != minute:
                self._pending[key_id] = minute

    def flush(self) -> int:
        """Write the pending marks; returns how many keys were written."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if pending:
            self._repo.touch(pending)
            with self._lock:
                self._written.update(pending)
                if len(self._written) > 100_000:
                    self._written.clear()
        return len(pending)
