"""Wrapped per-tenant data keys in the embedded SQLite database (``DataKeyRepository``).

Deleting a tenant's rows zeroes them in the file and empties the WAL: the crypto-shred leaves no wrapped key on disk.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable

from gateway.crypto.datakeys import WrappedKey, wrapped_key_of

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
        return [wrapped_key_of(row) for row in rows]

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
        return None if row is None else wrapped_key_of(row)

    def _write(self, sql: str, params: tuple[object, ...]) -> None:
        with self._lock, self._connect() as conn:
            conn.execute(sql, params)
