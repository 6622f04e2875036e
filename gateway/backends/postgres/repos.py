"""The API-key, data-key and privacy-ledger tables in PostgreSQL, shared by every replica.

Each class implements the same interface as its SQLite sibling (``ApiKeyRepository``, ``DataKeyRepository``,
``LedgerBase``), so a key created or revoked through one replica is seen by the next request on any other:
nothing is cached here (the data-key cache in ``Envelope`` expires on its own).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple
from datetime import datetime
from typing import Any

from gateway.auth.apikeys import ApiKeyRecord
from gateway.backends.postgres.pool import PgDatabase
from gateway.backends.sqlite.apikeys import KEY_COLUMNS, list_query
from gateway.backends.sqlite.ledger import counts_by_scope
from gateway.crypto.datakeys import WrappedKey
from gateway.privacy.ledger_base import DEFAULT_DELTA, DEFAULT_RADIUS, Group, LedgerBase

_DATA_KEY_COLUMNS = "tenant, version, kek_version, wrapped, created"


class PgApiKeyRepository:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    def insert(self, record: ApiKeyRecord) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                f"INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",  # noqa: S608
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

    def list(self, tenant: str | None = None) -> list[ApiKeyRecord]:
        with self._db.transaction() as conn:
            rows = conn.execute(*list_query(tenant, "%s")).fetchall()
        return [ApiKeyRecord(*row) for row in rows]


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
        return [_wrapped(row) for row in rows]

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
        return None if row is None else _wrapped(row)


def _wrapped(row: Sequence[Any]) -> WrappedKey:
    tenant, version, kek_version, wrapped, created = row
    return WrappedKey(str(tenant), int(version), int(kek_version), bytes(wrapped), datetime.fromisoformat(created))


# The call's new releases (a repeat does nothing) and, in the same statement, its tenant's running count.
_CHARGE = (
    "WITH added AS (INSERT INTO privacy_releases (tenant, scope, sigma, digest) "
    "SELECT %(tenant)s, %(scope)s, %(sigma)s, d FROM unnest(%(digests)s::bytea[]) AS d ON CONFLICT DO NOTHING "
    "RETURNING 1), "
    "n AS (SELECT count(*) AS c FROM added), "
    "counted AS (INSERT INTO privacy_counts (tenant, scope, sigma, releases) "
    "SELECT %(tenant)s, %(scope)s, %(sigma)s, c FROM n WHERE c > 0 ON CONFLICT (tenant, scope, sigma) "
    "DO UPDATE SET releases = privacy_counts.releases + EXCLUDED.releases) "
    "SELECT c FROM n"
)


class PgPrivacyLedger(LedgerBase):
    """One row per distinct release; ``ON CONFLICT DO NOTHING`` makes repeats free across replicas too."""

    remote = True

    def __init__(self, db: PgDatabase, *, delta: float = DEFAULT_DELTA, radius: float = DEFAULT_RADIUS) -> None:
        super().__init__(delta=delta, radius=radius)
        self._db = db

    def _insert_new(self, groups: Sequence[Group]) -> list[int]:
        # One statement per call (its releases and its count in one go), all sent in one pipeline: a group of
        # concurrent requests costs a couple of round trips to the database, not two per request. Statements run
        # in order, so a release shared with an earlier call of the group is that call's, as the base class says.
        with self._db.transaction() as conn:
            with conn.pipeline():
                cursors = [
                    conn.execute(_CHARGE, {"tenant": tenant, "scope": scope, "sigma": sigma, "digests": digests})
                    for tenant, scope, sigma, digests in groups
                ]
            return [int(row[0]) if (row := cur.fetchone()) else 0 for cur in cursors]

    def rename_scope(self, tenant: str, old: str, new: str) -> None:
        with self._db.transaction() as conn:
            for table in ("privacy_releases", "privacy_counts"):
                conn.execute(f"UPDATE {table} SET scope = %s WHERE tenant = %s AND scope = %s",  # noqa: S608
                             (new, tenant, old))

    def _known(self, tenant: str, scope: str, sigma: float, digests: Sequence[bytes]) -> int:
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT count(*) FROM privacy_releases WHERE tenant = %s AND scope = %s AND sigma = %s "
                "AND digest = ANY(%s::bytea[])",
                (tenant, scope, sigma, list(digests)),
            ).fetchone()
        return int(row[0]) if row else 0

    def _counts(self, tenant: str) -> dict[str, dict[float, int]]:
        with self._db.transaction() as conn:
            rows = conn.execute(
                "SELECT scope, sigma, releases FROM privacy_counts WHERE tenant = %s",
                (tenant,),
            ).fetchall()
        return counts_by_scope(rows)
