"""Wrapped per-tenant data keys in PostgreSQL (``DataKeyRepository``), shared by every replica.

Nothing is cached here (the data-key cache in ``Envelope`` expires on its own), so a shred through one replica
holds on every other.
"""

from __future__ import annotations

from gateway.backends.postgres.connection import PgDatabase
from gateway.crypto.datakeys import WrappedKey, wrapped_key_of

_DATA_KEY_COLUMNS = "tenant, version, kek_version, wrapped, created"


class PgDataKeyRepository:
    """Wrapped data keys only; ``delete_tenant`` is the crypto-shred (VACUUM reclaims the dead rows' space)."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    def get(self, tenant: str, version: int) -> WrappedKey | None:
        return self._one(
            f"SELECT {_DATA_KEY_COLUMNS} FROM data_keys WHERE tenant = %s AND version = %s",  # noqa: S608
            (tenant, version),
        )

    def active(self, tenant: str) -> WrappedKey | None:
        return self._one(
            f"SELECT {_DATA_KEY_COLUMNS} FROM data_keys WHERE tenant = %s "  # noqa: S608
            "ORDER BY version DESC LIMIT 1",
            (tenant,),
        )

    def put(self, key: WrappedKey) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                f"INSERT INTO data_keys ({_DATA_KEY_COLUMNS}) VALUES (%s, %s, %s, %s, %s) "  # noqa: S608
                "ON CONFLICT (tenant, version) DO NOTHING",
                (key.tenant, key.version, key.kek_version, key.wrapped, key.created.isoformat()),
            )

    def all(self) -> list[WrappedKey]:
        with self._db.transaction() as conn:
            rows = conn.execute(
                f"SELECT {_DATA_KEY_COLUMNS} FROM data_keys ORDER BY tenant, version"  # noqa: S608
            ).fetchall()
        return [wrapped_key_of(row) for row in rows]

    def replace(self, key: WrappedKey) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE data_keys SET kek_version = %s, wrapped = %s WHERE tenant = %s AND version = %s",
                (key.kek_version, key.wrapped, key.tenant, key.version),
            )

    def delete_tenant(self, tenant: str) -> int:
        with self._db.transaction() as conn:
            return int(conn.execute("DELETE FROM data_keys WHERE tenant = %s", (tenant,)).rowcount)

    def _one(self, sql: str, params: tuple[object, ...]) -> WrappedKey | None:
        with self._db.transaction() as conn:
            row = conn.execute(sql, params).fetchone()
        return None if row is None else wrapped_key_of(row)
