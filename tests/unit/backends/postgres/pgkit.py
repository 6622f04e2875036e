"""Test kit for PostgreSQL: a throwaway schema per test, and the store harness of the contract suite.

Each test gets its own schema (created, then dropped with everything in it), so concurrent runs on one
database never collide; the gateway's lock keys and NOTIFY payloads are per schema for the same reason.
``GATEWAY_TEST_DATABASE_URL`` names the server (default: the local one CI and this machine run).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from gateway.backends.postgres.connection import PgDatabase
from gateway.backends.postgres.datakeys import PgDataKeyRepository
from gateway.backends.postgres.migrations import upgrade
from gateway.backends.postgres.store import PostgresStore
from gateway.crypto import Envelope, Keyring
from gateway.store import IndexSettings, IntegrityFailure, Store

BASE_URL = os.environ.get("GATEWAY_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass
class TempSchema:
    """A schema that exists for one test; ``url`` selects it through libpq's ``options``."""

    name: str = field(default_factory=lambda: f"t_{uuid.uuid4().hex[:12]}")

    def __post_init__(self) -> None:
        with psycopg.connect(BASE_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.name)))

    @property
    def url(self) -> str:
        sep = "&" if "?" in BASE_URL else "?"
        return f"{BASE_URL}{sep}options=-csearch_path%3D{self.name}"

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            cur = conn.execute(query.encode(), params)
            return cur.fetchall() if cur.description else []

    def drop(self) -> None:
        with psycopg.connect(BASE_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(self.name)))


@dataclass
class PostgresHarness:
    """The PostgreSQL backend on a fresh schema; the keyring outlives restarts, as its key file would."""

    settings: IndexSettings
    keyring: Keyring = field(default_factory=Keyring.generate)
    failures: list[IntegrityFailure] = field(default_factory=list)
    schema: TempSchema = field(default_factory=TempSchema)
    store: Store = field(init=False)
    envelope: Envelope = field(init=False)

    def __post_init__(self) -> None:
        self.store = self._open()

    def _open(self) -> Store:
        self.db = PgDatabase(self.schema.url, max_size=4)
        upgrade(self.db)
        self.envelope = Envelope(self.keyring, PgDataKeyRepository(self.db))
        return PostgresStore(self.db, self.envelope, settings=self.settings, on_integrity_failure=self.failures.append)

    def reopen(self) -> Store:
        self.store.close()
        self.db.close()
        self.store = self._open()
        return self.store

    def settle(self) -> None:
        self.store.flush()  # type: ignore[attr-defined]

    def stored_files(self) -> Iterator[tuple[str, bytes]]:
        """Every stored row, each as one blob of its columns; snapshots named like the embedded backend's files."""
        for table in ("store_collections", "store_chunks", "store_changes", "data_keys"):
            for i, row in enumerate(self.schema.sql(f"SELECT * FROM {table}")):
                yield f"{table}/{i}", b"|".join(_bytes(v) for v in row)
        for tenant, name, payload in self.schema.sql("SELECT tenant, collection, payload FROM store_snapshots"):
            yield f"store_snapshots/{tenant}/{name}.faiss.enc", bytes(payload)

    def change_collections(self, tenant: str) -> list[str]:
        return [r[0] for r in self.schema.sql("SELECT collection FROM store_changes WHERE tenant = %s", (tenant,))]

    def raw(self, record_id: str, column: str) -> bytes:
        return _bytes(self.schema.sql(f"SELECT {column} FROM store_chunks WHERE record_id = %s", (record_id,))[0][0])

    def tamper(self, record_id: str, column: str) -> None:
        value = self.schema.sql(f"SELECT {column} FROM store_chunks WHERE record_id = %s", (record_id,))[0][0]
        data = bytearray(_bytes(value))
        data[len(data) // 2] ^= 0x01
        new: bytes | str = bytes(data) if isinstance(value, bytes | memoryview) else data.decode()
        self.schema.sql(f"UPDATE store_chunks SET {column} = %s WHERE record_id = %s", (new, record_id))

    def close(self) -> None:
        self.store.close()
        self.db.close()
        self.schema.drop()


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes | memoryview):
        return bytes(value)
    return str(value).encode()
