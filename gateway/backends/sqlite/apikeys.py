"""API key records in the embedded SQLite database (``ApiKeyRepository``).

The columns and the listing query come from ``gateway.auth.apikeys``, shared with ``backends.postgres.apikeys``,
which keeps the same table; only the placeholder style and the connection handling differ.
"""

from __future__ import annotations

import sqlite3
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
    revoked_at TEXT
);
"""

def _record(row: sqlite3.Row | tuple[str, ...]) -> ApiKeyRecord:
    return ApiKeyRecord(*row)


class SQLiteApiKeyRepository:
    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        db.connect().executescript(SCHEMA)

    def insert(self, record: ApiKeyRecord) -> None:
        self._db.connect().execute(
            f"INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608 - constant columns
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

    def list(self, tenant: str | None = None) -> list[ApiKeyRecord]:
        return [_record(r) for r in self._db.connect().execute(*list_query(tenant, "?")).fetchall()]
