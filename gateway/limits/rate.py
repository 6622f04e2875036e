"""Token buckets refilled per minute: the per-key request rate, and the quotas' per-minute limits
(``gateway.limits.quotas``), whose buckets hold tokens of the model instead of requests. The rates come from the
policy, so they reload with it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from gateway.errors import RateLimited


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill time)
        self.lock = threading.RLock()  # held by a caller that checks several buckets before taking from any
        self._max_keys = max_keys

    def check(self, key: str, per_minute: int | None) -> None:
        """Take one request from ``key``'s bucket, or raise ``RateLimited`` with the wait until it holds one."""
        with self.lock:
            wait = self.shortfall(key, per_minute, 1.0)
            if wait is not None:
                raise RateLimited(f"rate limit of {per_minute} requests per minute exceeded", retry_after=wait)
            self.take(key, per_minute, 1.0)

    def shortfall(self, key: str, per_minute: int | None, cost: float) -> float | None:
        """Seconds until ``key``'s bucket holds ``cost`` (None: it does now, or there is no limit). A cost above
        the bucket's size never fits: its wait is a whole minute, the time a full bucket takes to refill."""
        if not per_minute:
            return None
        tokens = self._level(key, per_minute)
        if tokens >= cost:
            return None
        if cost > per_minute:
            return 60.0
        return (cost - tokens) * 60.0 / per_minute

    def take(self, key: str, per_minute: int | None, cost: float) -> None:
        """Take ``cost`` from the bucket (a negative cost gives back); callers check ``shortfall`` first."""
        if not per_minute:
            return
        with self.lock:
            tokens = self._level(key, per_minute)
            if len(self._buckets) >= self._max_keys and key not in self._buckets:
                self._buckets.clear()  # bounded memory; a reset only ever lets callers through sooner
            self._buckets[key] = (min(float(per_minute), tokens - cost), self._clock())

    def _level(self, key: str, per_minute: int) -> float:
        now = self._clock()
        with self.lock:
            tokens, last = self._buckets.get(key, (float(per_minute), now))
        return min(float(per_minute), tokens + (now - last) * per_minute / 60.0)
