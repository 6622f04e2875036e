"""Where wrapped per-tenant data keys are kept: the repository interface and its in-memory implementation.

Only wrapped keys (AES-256-GCM under a KEK version) are stored, never a plain data key. Deleting a
tenant's rows is crypto-shredding: every ciphertext of that tenant
becomes undecryptable wherever copies of it live. The SQL implementations are
``gateway.backends.sqlite.datakeys`` and ``gateway.backends.postgres.datakeys``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class WrappedKey:
    """One version of a tenant's data key, encrypted under KEK version ``kek_version``."""

    tenant: str
    version: int
    kek_version: int
    wrapped: bytes = field(repr=False)
    created: datetime


class DataKeyRepository(Protocol):
    """Storage of wrapped data keys. Implementations are thread-safe."""

    def get(self, tenant: str, version: int) -> WrappedKey | None: ...

    def active(self, tenant: str) -> WrappedKey | None:
        """The tenant's highest version: the one new writes use."""
        ...

    def put(self, key: WrappedKey) -> None:
        """Insert; if (tenant, version) already exists the stored one is kept, so racing creators converge."""
        ...

    def all(self) -> list[WrappedKey]: ...

    def replace(self, key: WrappedKey) -> None:
        """Overwrite an existing (tenant, version) after a re-wrap; a shredded one is not recreated."""
        ...

    def delete_tenant(self, tenant: str) -> int:
        """Delete every version of the tenant's key; returns how many there were."""
        ...


class InMemoryDataKeyRepository:
    """A dict behind a lock, for tests and throwaway runs."""

    def __init__(self) -> None:
        self._keys: dict[tuple[str, int], WrappedKey] = {}
        self._lock = threading.Lock()

    def get(self, tenant: str, version: int) -> WrappedKey | None:
        with self._lock:
            return self._keys.get((tenant, version))

    def active(self, tenant: str) -> WrappedKey | None:
        with self._lock:
            versions = [k for (t, _), k in self._keys.items() if t == tenant]
        return max(versions, key=lambda k: k.version, default=None)

    def put(self, key: WrappedKey) -> None:
        with self._lock:
            self._keys.setdefault((key.tenant, key.version), key)

    def all(self) -> list[WrappedKey]:
        with self._lock:
            return sorted(self._keys.values(), key=lambda k: (k.tenant, k.version))

    def replace(self, key: WrappedKey) -> None:
        with self._lock:
            if (key.tenant, key.version) in self._keys:
                self._keys[(key.tenant, key.version)] = key

    def delete_tenant(self, tenant: str) -> int:
        with self._lock:
            doomed = [k for k in self._keys if k[0] == tenant]
            for k in doomed:
                del self._keys[k]
            return len(doomed)


def wrapped_key_of(row: Any) -> WrappedKey:
    """A ``WrappedKey`` from a (tenant, version, kek_version, wrapped, created) row of either SQL backend."""
    tenant, version, kek_version, wrapped, created = row
    return WrappedKey(
        str(tenant), int(version), int(kek_version), bytes(wrapped), datetime.fromisoformat(created)
    )
