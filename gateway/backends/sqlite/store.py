"""The embedded backend: SQLite (WAL) for collections, ciphertexts and provenance; FAISS for search.

Layout under ``data_dir``: ``store.db`` (unless a shared ``SQLiteDatabase`` is passed) and ``indexes/`` with
one encrypted snapshot per collection. Plain text and raw vector bytes never reach either: they are sealed by
``ChunkCodec`` before the first SQL statement. Every query names the tenant, so another tenant's collection is
simply not found. What does not depend on SQLite lives in ``engine.StoreEngine``.

Several worker processes may share the files (``workers`` above 1): writers are serialized by the database's
write lock; each process keeps its own in-memory FAISS indexes and follows the others' changes through the change
sequence (``ReplicaSync``, woken by ``listen.Listener``'s poll), exactly as PostgreSQL replicas do. A process's
own writes reach its own index before ``put`` returns, after whatever the others committed before them.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from gateway.backends.sqlite import store_rows as rows
from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.backends.sqlite.store_sync import changed_collections
from gateway.crypto import Envelope
from gateway.errors import NotFound, Unavailable
from gateway.observability import tracing
from gateway.store.base import Collection, IntegrityCallback
from gateway.store.codec import SealedChunk
from gateway.store.engine import ChunkKey, Row, StoreEngine
from gateway.store.faiss_index import IndexSettings, VectorIndex
from gateway.store.follow import ReplicaSync
from gateway.store.indexes import IndexManager
from gateway.store.rows import CHUNK_COLUMNS, COLLECTION_COLUMNS, collection_values, insert_collection_sql
from gateway.store.snapshots import SnapshotFiles

log = logging.getLogger(__name__)
_INSERT_COLLECTION = insert_collection_sql("?")


class SQLiteStore(StoreEngine):
    """``Store`` on one SQLite database and local encrypted FAISS snapshots (one gateway process)."""

    backend = "sqlite"
    duplicate = sqlite3.IntegrityError
    _placeholder = "?"

    def __init__(
        self,
        data_dir: Path,
        envelope: Envelope,
        db: SQLiteDatabase | None = None,
        *,
        settings: IndexSettings | None = None,
        on_integrity_failure: IntegrityCallback | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
        executor: Executor | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(envelope, on_integrity_failure, clock, new_id, on_close)
        self._db = db or SQLiteDatabase(data_dir / "store.db")
        rows.upgrade(self._db())
        settings = settings or IndexSettings()
        source = rows.SQLiteVectorSource(self._db, self._codec, self._report, settings.change_retention_s)
        snapshots = SnapshotFiles(data_dir / "indexes", envelope)
        self._indexes = IndexManager(source, settings, snapshots, executor)
        self.sync = ReplicaSync(changed_collections(self._db), source, self._indexes)

    def delete_document(self, tenant: str, collection: str, document_id: str) -> int:
        c = self.get_collection(tenant, collection)
        with self._indexes.lock(tenant, collection):
            self.sync.index(c)
            with rows.secure_delete(self._conn()) as conn, rows.transaction(conn):
                removed = rows.delete_documents(conn, c, {document_id})
            self._apply(c)
        return len(removed)

    def shred_tenant(self, tenant: str) -> int:
        conn = self._conn()
        total = super().shred_tenant(tenant)
        self._checkpoint(conn)
        return total

    # ---- StoreEngine hooks --------------------------------------------------------------------------------
    def _collection_rows(self, tenant: str, name: str | None) -> Sequence[Row]:
        select = f"SELECT {COLLECTION_COLUMNS} FROM store_collections WHERE tenant = ?"  # noqa: S608 - constant
        if name is None:
            return self._conn().execute(select + " ORDER BY name", (tenant,)).fetchall()
        return self._conn().execute(select + " AND name = ?", (tenant, name)).fetchall()

    def _insert_collection(self, c: Collection) -> None:
        with self._indexes.lock(c.tenant, c.name):
            self._conn().execute(_INSERT_COLLECTION, collection_values(c))
            self.sync.forget(c.tenant, c.name)  # a stale snapshot of an earlier namesake must not load

    def _chunk_rows(self, c: Collection, key: ChunkKey, value: str) -> Sequence[Row]:
        return self._conn().execute(
            f"SELECT {CHUNK_COLUMNS} FROM store_chunks "  # noqa: S608 - constant columns
            f"WHERE tenant = ? AND collection = ? AND {key} = ? ORDER BY chunk_index",
            (c.tenant, c.name, value),
        ).fetchall()

    def _rows_by_id(self, c: Collection, ids: Sequence[int]) -> Iterable[Row]:
        return rows.chunk_rows(self._conn(), c, ids)

    def _write(self, c: Collection, sealed: list[SealedChunk], vectors: np.ndarray, replace: bool) -> None:
        with self._indexes.lock(c.tenant, c.name):
            self.sync.index(c)
            with rows.transaction(self._conn()) as conn:
                if self.get_collection(c.tenant, c.name).created_at != c.created_at:
                    raise NotFound("collection not found", param="collection")  # dropped and recreated
                if replace:
                    rows.delete_documents(conn, c, {s.document_id for s in sealed})
                ids = [rows.insert_chunk(conn, c, s) for s in sealed]
                rows.record_commit(conn, sealed)
                rows.count_chunks(conn, c, len(ids))
            self._apply(c, dict(zip(ids, vectors, strict=True)))

    def _drop(self, tenant: str, name: str) -> int | None:
        with self._indexes.lock(tenant, name):
            with rows.secure_delete(self._conn()) as conn, rows.transaction(conn):
                count = rows.delete_collection(conn, tenant, name)
            self.sync.forget(tenant, name)
        return count

    def _forget_changes(self, tenant: str) -> None:
        with rows.secure_delete(self._conn()) as conn, rows.transaction(conn):
            conn.execute("DELETE FROM store_changes WHERE tenant = ?", (tenant,))

    def _purge(self, c: Collection, cutoff: str) -> list[int]:
        with self._indexes.lock(c.tenant, c.name):
            self.sync.index(c)
            with rows.secure_delete(self._conn()) as conn, rows.transaction(conn):
                removed = rows.delete_older(conn, c, cutoff)
            if removed:
                self._apply(c)
        if removed:
            self._checkpoint()
        return removed

    def _live_index(self, c: Collection) -> VectorIndex:
        return self.sync.index(c)

    def _query(self, sql: str, params: tuple[Any, ...]) -> Sequence[Sequence[Any]]:
        return list(self._conn().execute(sql, params).fetchall())

    def _usage(self) -> dict[str, Any]:
        try:
            conn = self._db()
            return {
                "collections": conn.execute("SELECT COUNT(*) FROM store_collections").fetchone()[0],
                "chunks": conn.execute("SELECT COUNT(*) FROM store_chunks").fetchone()[0],
                "change_seq": rows.last_seq(conn),
                "replica_refreshes": self.sync.refreshes,
                "replica_reloads": self.sync.reloads,
                "ok": not self._closed,
            }
        except sqlite3.Error:
            return {"ok": False}

    # ---- SQLite only --------------------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise Unavailable("the store is closed")
        return self._db()

    def _checkpoint(self, conn: sqlite3.Connection | None = None) -> None:
        """Empty the WAL, whose old page images would otherwise still hold deleted ciphertexts."""
        try:
            (conn or self._conn()).execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:  # busy readers: the pages are zeroed at the next checkpoint anyway
            log.warning("WAL checkpoint after a deletion was deferred")

    def _mark_unfinished(self, audit_indexes: Sequence[int]) -> list[int]:
        with rows.transaction(self._conn()) as conn:
            return rows.mark_unfinished(conn, audit_indexes)

    def _apply(self, c: Collection, known: Mapping[int, np.ndarray] | None = None) -> None:
        """Bring the live index up to the committed changes, this write's among them (its vectors from ``known``);
        if that fails, the index is dropped so that it reloads and replays."""
        with tracing.span("index"):
            self.sync.apply(c, known)
