"""Per-key concurrency limit: one API key cannot hold more than N requests in flight.

A rate limit bounds requests per minute; it does not stop one key from opening hundreds of slow requests at once
and starving every other caller of the model. The limit is read at each request (a setting), so tests and
operators can change it without rebuilding anything.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from gateway.errors import RateLimited


class KeyConcurrency:
    def __init__(self) -> None:
        self._in_flight: dict[str, int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def slot(self, key: str, limit: int) -> Iterator[None]:
        """Hold one of the key's ``limit`` slots for the body of the ``with``; 0 or less means unlimited."""
        with self._lock:
            held = self._in_flight.get(key, 0)
            if 0 < limit <= held:
                raise RateLimited(f"more than {limit} concurrent requests for this API key", retry_after=1.0)
            self._in_flight[key] = held + 1
        try:
            yield
        finally:
            with self._lock:
                left = self._in_flight[key] - 1
                if left:
                    self._in_flight[key] = left
                else:
                    del self._in_flight[key]  # bounded memory: only keys with requests in flight are kept

    def in_flight(self, key: str) -> int:
        with self._lock:
            return self._in_flight.get(key, 0)

    def total(self) -> int:
        """Requests in flight over all keys (the job runner waits while there are any: interactive work first)."""
        with self._lock:
            return sum(self._in_flight.values())
