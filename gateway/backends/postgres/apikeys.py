"""API key records in PostgreSQL (``ApiKeyRepository``), shared by every replica.

Nothing is cached: a key created or revoked through one replica is seen by the next request on any other. The
columns and the listing query come from ``gateway.auth.apikeys``, shared with ``backends.sqlite.apikeys``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import astuple

from gateway.auth.apikeys import KEY_COLUMNS, ApiKeyRecord, list_query
from gateway.backends.postgres.connection import PgDatabase


class PgApiKeyRepository:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    def insert(self, record: ApiKeyRecord) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                f"INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",  # noqa: S608
                astuple(record),  # the record's fields are the columns, in order
            )

    def find(self, key_id: str) -> ApiKeyRecord | None:
        with self._db.transaction() as conn:
            row = conn.execute(
                f"SELECT {KEY_COLUMNS} FROM api_keys WHERE key_id = %s", (key_id,)  # noqa: S608
            ).fetchone()
        return None if row is None else ApiKeyRecord(*row)

    def revoke(self, key_id: str, when: str) -> bool:
        with self._db.transaction() as conn:
            cur = conn.execute(
                "UPDATE api_keys SET revoked_at = %s WHERE key_id = %s AND revoked_at IS NULL", (when, key_id)
            )
            return cur.rowcount == 1

    def rotate(self, key_id: str, digest: str, previous_expires_at: str) -> bool:
        with self._db.transaction() as conn:
            cur = conn.execute(
                "UPDATE api_keys SET previous_digest = digest, previous_expires_at = %s, digest = %s "
                "WHERE key_id = %s AND revoked_at IS NULL", (previous_expires_at, digest, key_id),
            )
            return cur.rowcount == 1

    def touch(self, used: Mapping[str, str]) -> None:
        with self._db.transaction() as conn:
            for key_id, when in used.items():
                conn.execute(
                    "UPDATE api_keys SET last_used_at = %s WHERE key_id = %s "
                    "AND (last_used_at IS NULL OR last_used_at < %s)", (when, key_id, when),
                )

    def list(self, tenant: str | None = None) -> list[ApiKeyRecord]:
        with self._db.transaction() as conn:
            rows = conn.execute(*list_query(tenant, "%s")).fetchall()
        return [ApiKeyRecord(*row) for row in rows]
