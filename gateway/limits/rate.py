"""Per-key token buckets; the rate comes from the policy (requests per minute), so it reloads with it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from gateway.errors import RateLimited


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill time)
        self._lock = threading.Lock()
        self._max_keys = max_keys

    def check(self, key: str, per_minute: int | None) -> None:
        if not per_minute:
            return
        rate = per_minute / 60.0
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(per_minute), now))
            tokens = min(float(per_minute), tokens + (now - last) * rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                raise RateLimited(
                    f"rate limit of {per_minute} requests per minute exceeded", retry_after=(1.0 - tokens) / rate
                )
            if len(self._buckets) >= self._max_keys and key not in self._buckets:
                self._buckets.clear()  # bounded memory; a reset only ever lets callers through sooner
            self._buckets[key] = (tokens - 1.0, now)
