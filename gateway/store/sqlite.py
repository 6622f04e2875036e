"""The embedded backend: SQLite (WAL) for collections, ciphertexts and provenance; FAISS for search.

Layout under ``data_dir``: ``store.db`` (unless a shared ``SQLiteDatabase`` is passed) and ``indexes/`` with
one encrypted snapshot per collection. Plain text and raw vector bytes never reach either: they are sealed by
``ChunkCodec`` before the first SQL statement. Every query names the tenant, so another tenant's collection is
simply not found.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import replace as with_fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from gateway.crypto import Envelope
from gateway.db import SQLiteDatabase
from gateway.errors import Conflict, DecryptionFailed, NotFound, Unavailable
from gateway.store import sqlite_rows as rows
from gateway.store.base import (
    Collection,
    Hit,
    IntegrityCallback,
    IntegrityFailure,
    NewChunk,
    StoredChunk,
    check_batch,
    check_chunk,
    check_collection,
    check_search,
    check_vector,
    matches,
)
from gateway.store.codec import ChunkCodec, SealedChunk
from gateway.store.faiss_index import IndexSettings
from gateway.store.indexes import IndexManager
from gateway.store.snapshots import SnapshotFiles

log = logging.getLogger(__name__)
_OVERFETCH = 4


class SQLiteStore:
    """``Store`` on one SQLite database and local encrypted FAISS snapshots (one gateway process)."""

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
    ) -> None:
        self._db = db or SQLiteDatabase(data_dir / "store.db")
        self._db().executescript(rows.SCHEMA)
        self._envelope = envelope
        self._codec = ChunkCodec(envelope)
        self._on_failure = on_integrity_failure
        self._clock = clock
        self._new_id = new_id
        self.integrity_failures = 0
        self._closed = False
        source = rows.SQLiteVectorSource(self._db, self._codec, self._report)
        snapshots = SnapshotFiles(data_dir / "indexes", envelope)
        self._indexes = IndexManager(source, settings or IndexSettings(), snapshots, executor)

    def create_collection(self, c: Collection) -> Collection:
        check_collection(c)
        stored = with_fields(c, created_at=self._clock().isoformat(), chunk_count=0)
        with self._indexes.lock(c.tenant, c.name):
            try:
                self._conn().execute(
                    "INSERT INTO store_collections (tenant, name, model, model_version, dimension, index_type, "
                    "retain_text, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (c.tenant, c.name, c.model, c.model_version, c.dimension, c.index_type,
                     int(c.retain_text), stored.created_at),
                )  # fmt: skip
            except sqlite3.IntegrityError:
                raise Conflict("a collection with this name already exists", param="name") from None
            self._indexes.drop(c.tenant, c.name)  # a stale snapshot of an earlier namesake must not load
        return stored

    def get_collection(self, tenant: str, name: str) -> Collection:
        row = self._conn().execute(
            f"SELECT {rows.COLLECTION_COLUMNS} FROM store_collections c "  # noqa: S608 - constant columns
            "WHERE c.tenant = ? AND c.name = ?",
            (tenant, name),
        ).fetchone()
        if row is None:
            raise NotFound("collection not found", param="collection")
        return rows.to_collection(row)

    def list_collections(self, tenant: str) -> list[Collection]:
        found = self._conn().execute(
            f"SELECT {rows.COLLECTION_COLUMNS} FROM store_collections c "  # noqa: S608 - constant columns
            "WHERE c.tenant = ? ORDER BY c.name",
            (tenant,),
        )
        return [rows.to_collection(row) for row in found]

    def delete_collection(self, tenant: str, name: str) -> int:
        with self._indexes.lock(tenant, name):
            count = self._drop(tenant, name)
        if count is None:
            raise NotFound("collection not found", param="collection")
        return count

    def put(
        self,
        tenant: str,
        collection: str,
        chunks: Sequence[NewChunk],
        audit_index: int | None,
        *,
        replace: bool = False,
    ) -> list[str]:
        c = self.get_collection(tenant, collection)
        if not chunks:
            return []
        vectors = np.vstack([check_chunk(chunk, c.dimension) for chunk in chunks])
        check_batch(c, chunks)
        now = self._clock().isoformat()
        sealed = [
            self._codec.seal(c, self._new_id(), chunk, vector, now, audit_index)
            for chunk, vector in zip(chunks, vectors, strict=True)
        ]
        with self._indexes.lock(tenant, collection):
            index = self._indexes.get(c)
            try:
                with rows.transaction(self._conn()) as conn:
                    if self.get_collection(tenant, collection).created_at != c.created_at:
                        raise NotFound("collection not found", param="collection")  # dropped and recreated
                    removed = rows.delete_documents(conn, c, {ch.document_id for ch in chunks}) if replace else []
                    ids = [rows.insert_chunk(conn, c, s) for s in sealed]
                    rows.count_chunks(conn, c, len(ids))
                    seq = rows.last_seq(conn)
            except sqlite3.IntegrityError:
                raise Conflict("a chunk of this document is already stored", param="document_id") from None

            def update() -> None:
                index.remove(np.asarray(removed, dtype=np.int64), seq)
                index.add(np.asarray(ids, dtype=np.int64), vectors, seq)

            self._apply(c, update)
        self._indexes.schedule(c)
        return [s.record_id for s in sealed]

    def get(self, tenant: str, collection: str, record_id: str) -> StoredChunk:
        c = self.get_collection(tenant, collection)
        row = self._conn().execute(
            f"SELECT {rows.CHUNK_COLUMNS} FROM store_chunks "  # noqa: S608 - constant columns
            "WHERE tenant = ? AND collection = ? AND record_id = ?",
            (tenant, collection, record_id),
        ).fetchone()
        if row is None:
            raise NotFound("record not found", param="record_id")
        return self._open_or_raise(c, rows.to_sealed(row)[1], "get")

    def document(self, tenant: str, collection: str, document_id: str) -> list[StoredChunk]:
        c = self.get_collection(tenant, collection)
        found = self._conn().execute(
            f"SELECT {rows.CHUNK_COLUMNS} FROM store_chunks "  # noqa: S608 - constant columns
            "WHERE tenant = ? AND collection = ? AND document_id = ? ORDER BY chunk_index",
            (tenant, collection, document_id),
        ).fetchall()
        if not found:
            raise NotFound("document not found", param="document_id")
        return [self._open_or_raise(c, rows.to_sealed(row)[1], "document") for row in found]

    def delete_document(self, tenant: str, collection: str, document_id: str) -> int:
        c = self.get_collection(tenant, collection)
        with self._indexes.lock(tenant, collection):
            index = self._indexes.get(c)
            with rows.secure_delete(self._conn()) as conn, rows.transaction(conn):
                removed = rows.delete_documents(conn, c, {document_id})
                seq = rows.last_seq(conn)
            self._apply(c, lambda: index.remove(np.asarray(removed, dtype=np.int64), seq))
        self._indexes.schedule(c)
        return len(removed)

    def search(
        self,
        tenant: str,
        collection: str,
        vector: np.ndarray,
        k: int,
        filter: Mapping[str, Any] | None = None,  # the API's own word
    ) -> list[Hit]:
        c = self.get_collection(tenant, collection)
        query = check_vector(vector, c.dimension, unit=False)
        check_search(k, filter)
        index = self._indexes.get(c)
        opened: dict[int, StoredChunk | None] = {}
        fetch = k * _OVERFETCH if filter else k
        while True:
            found = index.search(query, fetch)
            fresh = [chunk_id for chunk_id, _ in found if chunk_id not in opened]
            opened.update(self._open_many(c, fresh))
            hits = [
                Hit.of(chunk, score)
                for chunk_id, score in found
                if (chunk := opened.get(chunk_id)) is not None and matches(chunk.metadata, filter)
            ]
            if len(hits) >= k or fetch >= index.capacity:
                return hits[:k]
            fetch = min(fetch * _OVERFETCH, index.capacity)

    def shred_tenant(self, tenant: str) -> int:
        conn = self._conn()
        self._envelope.shred(tenant)  # first: even a crash halfway leaves nothing readable
        names = [r[0] for r in conn.execute("SELECT name FROM store_collections WHERE tenant = ?", (tenant,))]
        total = 0
        for name in names:
            with self._indexes.lock(tenant, name):
                total += self._drop(tenant, name) or 0
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:  # busy readers: the pages are zeroed at the next checkpoint anyway
            log.warning("WAL checkpoint after a shred was deferred")
        return total

    def health(self) -> dict[str, Any]:
        status: dict[str, Any] = {"backend": "sqlite", "open": not self._closed}
        try:
            conn = self._db()
            status["collections"] = conn.execute("SELECT COUNT(*) FROM store_collections").fetchone()[0]
            status["chunks"] = conn.execute("SELECT COUNT(*) FROM store_chunks").fetchone()[0]
            status["change_seq"] = rows.last_seq(conn)
            status["ok"] = not self._closed
        except sqlite3.Error:
            status["ok"] = False
        status["integrity_failures"] = self.integrity_failures
        status.update(self._indexes.health())
        return status

    def flush(self) -> None:
        """Wait for background index rebuilds and snapshots (not part of ``Store``: for tests and tools)."""
        self._indexes.flush()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._indexes.close()

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise Unavailable("the store is closed")
        return self._db()

    def _drop(self, tenant: str, name: str) -> int | None:
        """Delete a collection and forget its index (collection lock held); None if there was none."""
        with rows.secure_delete(self._conn()) as conn, rows.transaction(conn):
            count = rows.delete_collection(conn, tenant, name)
        self._indexes.drop(tenant, name)
        return count

    def _apply(self, c: Collection, update: Callable[[], object]) -> None:
        """Apply a committed change to the live index; if that fails, drop the index so it reloads and replays."""
        try:
            update()
        except Exception:
            self._indexes.invalidate(c.tenant, c.name)
            raise

    def _open_many(self, c: Collection, ids: Sequence[int]) -> dict[int, StoredChunk | None]:
        opened: dict[int, StoredChunk | None] = dict.fromkeys(ids)
        for row in rows.chunk_rows(self._conn(), c, ids):
            chunk_id, sealed = rows.to_sealed(row)
            try:
                opened[chunk_id] = self._codec.open(c, sealed)
            except DecryptionFailed:
                self._report(IntegrityFailure(c.tenant, c.name, sealed.record_id, "search"))
        return opened

    def _open_or_raise(self, c: Collection, sealed: SealedChunk, operation: str) -> StoredChunk:
        try:
            return self._codec.open(c, sealed)
        except DecryptionFailed:
            self._report(IntegrityFailure(c.tenant, c.name, sealed.record_id, operation))
            raise

    def _report(self, failure: IntegrityFailure) -> None:
        self.integrity_failures += 1
        log.warning("a stored record did not decrypt during %s", failure.operation)
        if self._on_failure is not None:
            self._on_failure(failure)
