"""API key records in the embedded SQLite database."""

from __future__ import annotations

import sqlite3

from gateway.auth.apikeys import ApiKeyRecord
from gateway.db import SQLiteDatabase

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

_COLUMNS = "key_id, tenant, subject, role, digest, created_at, expires_at, revoked_at"


def _record(row: sqlite3.Row | tuple[str, ...]) -> ApiKeyRecord:
    return ApiKeyRecord(*row)


class SQLiteApiKeyRepository:
    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        db.connect().executescript(SCHEMA)

    def insert(self, record: ApiKeyRecord) -> None:
        self._db.connect().execute(
            f"INSERT INTO api_keys ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608 - constant columns
            (record.key_id, record.tenant, record.subject, record.role, record.digest, record.created_at,
             record.expires_at, record.revoked_at),
        )

    def find(self, key_id: str) -> ApiKeyRecord | None:
        row = self._db.connect().execute(
            f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,)  # noqa: S608 - constant columns
        ).fetchone()
        return _record(row) if row else None

    def revoke(self, key_id: str, when: str) -> bool:
        cur = self._db.connect().execute(
            "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL", (when, key_id)
        )
        return cur.rowcount == 1

    def list(self, tenant: str | None = None) -> list[ApiKeyRecord]:
        conn = self._db.connect()
        if tenant is None:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at").fetchall()  # noqa: S608
        else:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM api_keys WHERE tenant = ? ORDER BY created_at",  # noqa: S608
                (tenant,),
            ).fetchall()
        return [_record(r) for r in rows]
