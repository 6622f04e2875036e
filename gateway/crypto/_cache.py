"""A small, bounded, expiring cache of unwrapped data keys and of each tenant's active version.

Unwrapping is cheap; the repository read before it is not, and search decrypts many records at once. Entries
expire after ``ttl_s`` so that a shred or rotation done by another replica takes effect here within that time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime

from gateway.crypto.secrets import SecretBytes


class KeyCache:
    """LRU of (tenant, version) -> data key, plus tenant -> active version; both expire after ``ttl_s``."""

    def __init__(self, max_entries: int, ttl_s: float, clock: Callable[[], datetime]) -> None:
        self._max = max_entries
        self._ttl = ttl_s
        self._clock = clock
        self._keys: OrderedDict[tuple[str, int], tuple[SecretBytes, datetime]] = OrderedDict()
        self._active: dict[str, tuple[int, datetime]] = {}
        self._lock = threading.Lock()

    def key(self, tenant: str, version: int) -> SecretBytes | None:
        with self._lock:
            entry = self._keys.get((tenant, version))
            if entry is None or not self._fresh(entry[1]):
                self._keys.pop((tenant, version), None)
                return None
            self._keys.move_to_end((tenant, version))
            return entry[0]

    def active(self, tenant: str) -> int | None:
        with self._lock:
            entry = self._active.get(tenant)
            if entry is None or not self._fresh(entry[1]):
                self._active.pop(tenant, None)
                return None
            return entry[0]

    def store(self, tenant: str, version: int, key: SecretBytes, *, active: bool = False) -> None:
        if self._max <= 0:
            return
        with self._lock:
            now = self._clock()
            self._keys[(tenant, version)] = (key, now)
            self._keys.move_to_end((tenant, version))
            while len(self._keys) > self._max:
                self._keys.popitem(last=False)
            if active:
                if len(self._active) >= self._max and tenant not in self._active:
                    self._active.clear()  # one entry per tenant: reaching the bound is rare, refilling cheap
                self._active[tenant] = (version, now)

    def forget_tenant(self, tenant: str) -> None:
        with self._lock:
            for cached in [k for k in self._keys if k[0] == tenant]:
                del self._keys[cached]
            self._active.pop(tenant, None)

    def _fresh(self, stored_at: datetime) -> bool:
        # A clock that went backwards also counts as stale: expiring early is safe, late is not.
        return 0 <= (self._clock() - stored_at).total_seconds() < self._ttl
