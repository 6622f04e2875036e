"""The scale-out backend: PostgreSQL for collections, ciphertexts, provenance and index snapshots.

Any number of gateway replicas share one database. Each holds the FAISS index of each collection it serves in
memory: loaded from the shared encrypted snapshot (or built from the records) and kept current from the change
sequence by ``ReplicaSync`` on every NOTIFY and at least every poll interval. A replica's own writes reach
its own index before ``put`` returns; other replicas' within the measured lag (``docs/postgres.md``).
Writers of one collection are serialized by its row lock, across replicas. A lost database surfaces as
``Unavailable`` (503) from the pool. What does not depend on PostgreSQL lives in ``engine.StoreEngine``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

import numpy as np
import psycopg

from gateway.backends.postgres import store_rows as rows
from gateway.backends.postgres.connection import PgDatabase
from gateway.backends.postgres.store_sync import changed_collections
from gateway.crypto import Envelope
from gateway.errors import Unavailable
from gateway.observability import tracing
from gateway.store.base import Collection, IntegrityCallback
from gateway.store.codec import SealedChunk
from gateway.store.engine import ChunkKey, Row, StoreEngine
from gateway.store.faiss_index import IndexSettings, VectorIndex
from gateway.store.follow import ReplicaSync
from gateway.store.indexes import IndexManager
from gateway.store.rows import CHUNK_COLUMNS, COLLECTION_COLUMNS, collection_values, insert_collection_sql

_INSERT_COLLECTION = insert_collection_sql("%s")


class PostgresStore(StoreEngine):
    """``Store`` on a shared PostgreSQL database; its schema comes from ``migrations`` beside it."""

    backend = "postgres"
    duplicate = psycopg.errors.UniqueViolation
    _placeholder = "%s"

    def __init__(
        self,
        db: PgDatabase,
        envelope: Envelope,
        *,
        settings: IndexSettings | None = None,
        on_integrity_failure: IntegrityCallback | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(envelope, on_integrity_failure, clock, new_id, on_close)
        self._db = db
        settings = settings or IndexSettings()
        self._source = rows.PgVectorSource(db, self._codec, self._report, settings.change_retention_s)
        self._indexes = IndexManager(self._source, settings, rows.PgSnapshots(db, envelope))
        self.sync = ReplicaSync(changed_collections(db), self._source, self._indexes)

    def delete_document(self, tenant: str, collection: str, document_id: str) -> int:
        c = self.get_collection(tenant, collection)
        with self._indexes.lock(tenant, collection):
            self.sync.index(c)
            with self._tx() as conn:
                rows.lock_collection(conn, c)
                removed = rows.delete_documents(conn, c, {document_id})
                self._db.notify(conn, rows.CHANNEL)
            self.sync.apply(c)
        return len(removed)

    # ---- StoreEngine hooks --------------------------------------------------------------------------------
    def _collection_rows(self, tenant: str, name: str | None) -> Sequence[Row]:
        select = f"SELECT {COLLECTION_COLUMNS} FROM store_collections WHERE tenant = %s"  # noqa: S608 - constant
        with self._tx() as conn:
            if name is None:
                return conn.execute(select + " ORDER BY name", (tenant,)).fetchall()
            return conn.execute(select + " AND name = %s", (tenant, name)).fetchall()

    def _insert_collection(self, c: Collection) -> None:
        with self._tx() as conn:
            conn.execute(_INSERT_COLLECTION, collection_values(c))

    def _chunk_rows(self, c: Collection, key: ChunkKey, value: str) -> Sequence[Row]:
        with self._tx() as conn:
            return conn.execute(
                f"SELECT {CHUNK_COLUMNS} FROM store_chunks "  # noqa: S608 - constant columns
                f"WHERE tenant = %s AND collection = %s AND {key} = %s ORDER BY chunk_index",
                (c.tenant, c.name, value),
            ).fetchall()

    def _rows_by_id(self, c: Collection, ids: Sequence[int]) -> Iterable[Row]:
        with self._tx() as conn:
            return conn.execute(
                f"SELECT {CHUNK_COLUMNS} FROM store_chunks "  # noqa: S608 - constant columns
                "WHERE id = ANY(%s) AND tenant = %s AND collection = %s",
                (list(ids), c.tenant, c.name),
            ).fetchall()

    def _write(self, c: Collection, sealed: list[SealedChunk], vectors: np.ndarray, replace: bool) -> None:
        with self._indexes.lock(c.tenant, c.name):
            self.sync.index(c)
            with self._tx() as conn:
                rows.lock_collection(conn, c)
                if replace:
                    rows.delete_documents(conn, c, {s.document_id for s in sealed})
                ids = rows.insert_chunks(conn, c, sealed)
                rows.record_commit(conn, sealed)
                self._db.notify(conn, rows.CHANNEL)
            with tracing.span("index"):
                self.sync.apply(c, dict(zip(ids, vectors, strict=True)))

    def _mark_unfinished(self, audit_indexes: Sequence[int]) -> list[int]:
        with self._tx() as conn:
            return rows.mark_unfinished(conn, audit_indexes)

    def _drop(self, tenant: str, name: str) -> int | None:
        with self._indexes.lock(tenant, name):
            with self._tx() as conn:
                count = rows.delete_collection(conn, tenant, name)
                self._db.notify(conn, rows.CHANNEL)
            self.sync.forget(tenant, name)
        return count

    def _forget_changes(self, tenant: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM store_changes WHERE tenant = %s", (tenant,))

    def _purge(self, c: Collection, cutoff: str) -> list[int]:
        with self._indexes.lock(c.tenant, c.name):
            self.sync.index(c)
            with self._tx() as conn:
                rows.lock_collection(conn, c)
                removed = rows.delete_older(conn, c, cutoff)
                if removed:
                    self._db.notify(conn, rows.CHANNEL)
            if removed:
                self.sync.apply(c)
        return removed

    def _live_index(self, c: Collection) -> VectorIndex:
        return self.sync.index(c)

    def _query(self, sql: str, params: tuple[Any, ...]) -> Sequence[Sequence[Any]]:
        with self._tx() as conn:
            return list(conn.execute(sql.encode(), params).fetchall())

    def _usage(self) -> dict[str, Any]:
        usage: dict[str, Any] = {"ok": False, "replica_refreshes": self.sync.refreshes,
                                 "replica_reloads": self.sync.reloads}
        try:
            with self._db.transaction() as conn:
                row = conn.execute(
                    "SELECT (SELECT count(*) FROM store_collections), (SELECT count(*) FROM store_chunks), "
                    "(SELECT coalesce(max(seq), 0) FROM store_changes)"
                ).fetchone()
        except Unavailable:
            return usage
        usage["collections"], usage["chunks"], usage["change_seq"] = row or (0, 0, 0)
        usage["ok"] = not self._closed
        return usage

    # ---- PostgreSQL only ----------------------------------------------------------------------------------
    def _tx(self) -> AbstractContextManager[rows.Conn]:
        if self._closed:
            raise Unavailable("the store is closed")
        return self._db.transaction()
