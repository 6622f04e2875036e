"""Where wrapped per-tenant data keys are kept: a small repository interface and two implementations.

Only wrapped keys (AES-256-GCM under a KEK version) are stored, never a plain data key. Deleting a
tenant's rows is crypto-shredding: every ciphertext of that tenant
becomes undecryptable wherever copies of it live.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

_SECURE_DELETE_MODES = {0: "OFF", 1: "ON", 2: "FAST"}
SCHEMA = """
CREATE TABLE IF NOT EXISTS data_keys (
    tenant TEXT NOT NULL,
    version INTEGER NOT NULL,
    kek_version INTEGER NOT NULL,
    wrapped BLOB NOT NULL,
    created TEXT NOT NULL,
    PRIMARY KEY (tenant, version)
)
"""


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


class SQLiteDataKeyRepository:
    """The ``data_keys`` table in the embedded SQLite database.

    ``conn_factory`` owns the connections (``backends.sqlite.connection.SQLiteDatabase``, one per thread);
    this class never closes them. A lock
    serializes its own statements, so even a single shared connection is safe.
    """

    def __init__(self, conn_factory: Callable[[], sqlite3.Connection]) -> None:
        self._connect = conn_factory
        self._lock = threading.Lock()
        with self._lock, self._connect() as conn:
            conn.execute(SCHEMA)

    def get(self, tenant: str, version: int) -> WrappedKey | None:
        return self._one(
            "SELECT tenant, version, kek_version, wrapped, created FROM data_keys "
            "WHERE tenant = ? AND version = ?",
            (tenant, version),
        )

    def active(self, tenant: str) -> WrappedKey | None:
        return self._one(
            "SELECT tenant, version, kek_version, wrapped, created FROM data_keys WHERE tenant = ? "
            "ORDER BY version DESC LIMIT 1",
            (tenant,),
        )

    def put(self, key: WrappedKey) -> None:
        self._write(
            "INSERT OR IGNORE INTO data_keys (tenant, version, kek_version, wrapped, created) "
            "VALUES (?, ?, ?, ?, ?)",
            (key.tenant, key.version, key.kek_version, key.wrapped, key.created.isoformat()),
        )

    def all(self) -> list[WrappedKey]:
        with self._lock:
            rows = (
                self._connect()
                .execute(
                    "SELECT tenant, version, kek_version, wrapped, created FROM data_keys "
                    "ORDER BY tenant, version"
                )
                .fetchall()
            )
        return [_key(row) for row in rows]

    def replace(self, key: WrappedKey) -> None:
        self._write(
            "UPDATE data_keys SET kek_version = ?, wrapped = ? WHERE tenant = ? AND version = ?",
            (key.kek_version, key.wrapped, key.tenant, key.version),
        )

    def delete_tenant(self, tenant: str) -> int:
        with self._lock:
            conn = self._connect()
            # Zero the deleted rows in the file and empty the WAL, so the wrapped keys do not linger on disk.
            previous = _SECURE_DELETE_MODES.get(conn.execute("PRAGMA secure_delete").fetchone()[0], "OFF")
            conn.execute("PRAGMA secure_delete = ON")
            try:
                with conn:
                    count = conn.execute("DELETE FROM data_keys WHERE tenant = ?", (tenant,)).rowcount
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                conn.execute("PRAGMA secure_delete = " + previous)
        return int(count)

    def _one(self, sql: str, params: tuple[object, ...]) -> WrappedKey | None:
        with self._lock:
            row = self._connect().execute(sql, params).fetchone()
        return None if row is None else _key(row)

    def _write(self, sql: str, params: tuple[object, ...]) -> None:
        with self._lock, self._connect() as conn:
            conn.execute(sql, params)


def _key(row: Any) -> WrappedKey:
    tenant, version, kek_version, wrapped, created = row
    return WrappedKey(
        str(tenant), int(version), int(kek_version), bytes(wrapped), datetime.fromisoformat(created)
    )
