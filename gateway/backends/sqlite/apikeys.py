"""API key records in the embedded SQLite database (``ApiKeyRepository``).

The columns and the listing query come from ``gateway.auth.apikeys``, shared with ``backends.postgres.apikeys``,
which keeps the same table; only the placeholder style and the connection handling differ.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import astuple

from gateway.auth.apikeys import KEY_COLUMNS, ApiKeyRecord, list_query
from gateway.backends.sqlite.connection import SQLiteDatabase

SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    subject TEXT NOT NULL,
    role TEXT NOT NULL,
    digest TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT,
    previous_digest TEXT,
    previous_expires_at TEXT,
    last_used_at TEXT
);
"""
# Columns added after the first release: a database made before them gains them at open.
ADDED_COLUMNS = ("previous_digest", "previous_expires_at", "last_used_at")

def _record(row: sqlite3.Row | tuple[str, ...]) -> ApiKeyRecord:
    return ApiKeyRecord(*row)


class SQLiteApiKeyRepository:
    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        conn = db.connect()
        conn.executescript(SCHEMA)
        present = {row[1] for row in conn.execute("PRAGMA table_info(api_keys)")}
        for column in ADDED_COLUMNS:
            if column not in present:
                conn.execute(f"ALTER TABLE api_keys ADD COLUMN {column} TEXT")

    def insert(self, record: ApiKeyRecord) -> None:
        self._db.connect().execute(
            f"INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608 - constant columns
            astuple(record),  # the record's fields are the columns, in order (as ``_record`` reads them)
        )

    def find(self, key_id: str) -> ApiKeyRecord | None:
        row = self._db.connect().execute(
            f"SELECT {KEY_COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,)  # noqa: S608 - constant columns
        ).fetchone()
        return _record(row) if row else None

    def revoke(self, key_id: str, when: str) -> bool:
        cur = self._db.connect().execute(
            "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL", (when, key_id)
        )
        return cur.rowcount == 1

    def rotate(self, key_id: str, digest: str, previous_expires_at: str) -> bool:
        cur = self._db.connect().execute(
            "UPDATE api_keys SET previous_digest = digest, previous_expires_at = ?, digest = ? "
            "WHERE key_id = ? AND revoked_at IS NULL", (previous_expires_at, digest, key_id),
        )
        return cur.rowcount == 1

    def touch(self, used: Mapping[str, str]) -> None:
        conn = self._db.connect()
        with conn:
            conn.executemany(
                "UPDATE api_keys SET last_used_at = ? WHERE key_id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
                [(when, key_id, when) for key_id, when in used.items()],
            )

    def list(self, tenant: str | None = None) -> list[ApiKeyRecord]:
        return [_record(r) for r in self._db.connect().execute(*list_query(tenant, "?")).fetchall()]
