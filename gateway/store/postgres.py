"""The scale-out backend: PostgreSQL for collections, ciphertexts, provenance and index snapshots.

Any number of gateway replicas share one database. Each holds the FAISS index of each collection it serves in
memory: loaded from the shared encrypted snapshot (or built from the records) and kept current from the change
sequence by ``ReplicaSync`` on every NOTIFY and at least every poll interval. A replica's own writes reach
its own index before ``put`` returns; other replicas' within the measured lag (``docs/postgres.md``).
Writers of one collection are serialized by its row lock, across replicas. A lost database surfaces as
``Unavailable`` (503) from the pool.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import psycopg

from gateway.crypto import Envelope
from gateway.errors import Conflict, DecryptionFailed, NotFound, Unavailable
from gateway.pg.pool import PgDatabase
from gateway.store import postgres_rows as rows
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
from gateway.store.postgres_sync import ReplicaSync

log = logging.getLogger(__name__)
_OVERFETCH = 4


class PostgresStore:
    """``Store`` on a shared PostgreSQL database; the database's schema comes from ``gateway.pg.migrations``."""

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
        self._db = db
        self._on_close = on_close
        self._envelope = envelope
        self._codec = ChunkCodec(envelope)
        self._on_failure = on_integrity_failure
        self._clock = clock
        self._new_id = new_id
        self.integrity_failures = 0
        self._closed = False
        self._source = rows.PgVectorSource(db, self._codec, self._report)
        self._indexes = IndexManager(self._source, settings or IndexSettings(), rows.PgSnapshots(db, envelope))
        self.sync = ReplicaSync(db, self._source, self._indexes)

    def create_collection(self, c: Collection) -> Collection:
        check_collection(c)
        stored = Collection(c.tenant, c.name, c.model, c.model_version, c.dimension, c.index_type, c.retain_text,
                            self._clock().isoformat(), 0)  # fmt: skip
        try:
            with self._tx() as conn:
                conn.execute(
                    "INSERT INTO store_collections (tenant, name, model, model_version, dimension, index_type, "
                    "retain_text, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    (c.tenant, c.name, c.model, c.model_version, c.dimension, c.index_type, c.retain_text,
                     stored.created_at),
                )  # fmt: skip
        except psycopg.errors.UniqueViolation:
            raise Conflict("a collection with this name already exists", param="name") from None
        return stored

    def get_collection(self, tenant: str, name: str) -> Collection:
        with self._tx() as conn:
            row = conn.execute(
                f"SELECT {rows.COLLECTION_COLUMNS} FROM store_collections "  # noqa: S608 - constant columns
                "WHERE tenant = %s AND name = %s",
                (tenant, name),
            ).fetchone()
        if row is None:
            raise NotFound("collection not found", param="collection")
        return rows.to_collection(row)

    def list_collections(self, tenant: str) -> list[Collection]:
        with self._tx() as conn:
            found = conn.execute(
                f"SELECT {rows.COLLECTION_COLUMNS} FROM store_collections "  # noqa: S608 - constant columns
                "WHERE tenant = %s ORDER BY name",
                (tenant,),
            ).fetchall()
        return [rows.to_collection(row) for row in found]

    def delete_collection(self, tenant: str, name: str) -> int:
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
        sealed = [self._codec.seal(c, self._new_id(), chunk, vector, now, audit_index)
                  for chunk, vector in zip(chunks, vectors, strict=True)]  # fmt: skip
        with self._indexes.lock(tenant, collection):
            self.sync.index(c)
            try:
                with self._tx() as conn:
                    rows.lock_collection(conn, c)
                    if replace:
                        rows.delete_documents(conn, c, {ch.document_id for ch in chunks})
                    ids = rows.insert_chunks(conn, c, sealed)
                    self._db.notify(conn, rows.CHANNEL)
            except psycopg.errors.UniqueViolation:
                raise Conflict("a chunk of this document is already stored", param="document_id") from None
            self.sync.apply(c, dict(zip(ids, vectors, strict=True)))
        return [s.record_id for s in sealed]

    def get(self, tenant: str, collection: str, record_id: str) -> StoredChunk:
        c = self.get_collection(tenant, collection)
        with self._tx() as conn:
            row = conn.execute(
                f"SELECT {rows.CHUNK_COLUMNS} FROM store_chunks "  # noqa: S608 - constant columns
                "WHERE tenant = %s AND collection = %s AND record_id = %s",
                (tenant, collection, record_id),
            ).fetchone()
        if row is None:
            raise NotFound("record not found", param="record_id")
        return self._open_or_raise(c, rows.to_sealed(row)[1], "get")

    def document(self, tenant: str, collection: str, document_id: str) -> list[StoredChunk]:
        c = self.get_collection(tenant, collection)
        with self._tx() as conn:
            found = conn.execute(
                f"SELECT {rows.CHUNK_COLUMNS} FROM store_chunks "  # noqa: S608 - constant columns
                "WHERE tenant = %s AND collection = %s AND document_id = %s ORDER BY chunk_index",
                (tenant, collection, document_id),
            ).fetchall()
        if not found:
            raise NotFound("document not found", param="document_id")
        return [self._open_or_raise(c, rows.to_sealed(row)[1], "document") for row in found]

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
        index = self.sync.index(c)
        opened: dict[int, StoredChunk | None] = {}
        fetch = k * _OVERFETCH if filter else k
        while True:
            found = index.search(query, fetch)
            fresh = [chunk_id for chunk_id, _ in found if chunk_id not in opened]
            opened.update(self._open_many(c, fresh))
            hits = [Hit.of(chunk, score) for chunk_id, score in found
                    if (chunk := opened.get(chunk_id)) is not None and matches(chunk.metadata, filter)]  # fmt: skip
            if len(hits) >= k or fetch >= index.capacity:
                return hits[:k]
            fetch = min(fetch * _OVERFETCH, index.capacity)

    def shred_tenant(self, tenant: str) -> int:
        self._envelope.shred(tenant)  # first: even a crash halfway leaves nothing readable
        return sum(self._drop(tenant, c.name) or 0 for c in self.list_collections(tenant))

    def health(self) -> dict[str, Any]:
        status: dict[str, Any] = {"backend": "postgres", "open": not self._closed}
        try:
            with self._db.transaction() as conn:
                row = conn.execute(
                    "SELECT (SELECT count(*) FROM store_collections), (SELECT count(*) FROM store_chunks), "
                    "(SELECT coalesce(max(seq), 0) FROM store_changes)"
                ).fetchone()
            status["collections"], status["chunks"], status["change_seq"] = row or (0, 0, 0)
            status["ok"] = not self._closed
        except Unavailable:
            status["ok"] = False
        status["integrity_failures"] = self.integrity_failures
        status["replica_refreshes"] = self.sync.refreshes
        status.update(self._indexes.health())
        return status

    def flush(self) -> None:
        """Wait for background index rebuilds and snapshots (not part of ``Store``: for tests and tools)."""
        self._indexes.flush()

    def close(self) -> None:
        """Write the final snapshots, then run ``on_close`` (the owner stops its listener and pool there)."""
        if not self._closed:
            self._closed = True
            self._indexes.close()
            if self._on_close is not None:
                self._on_close()

    def _tx(self) -> Any:
        if self._closed:
            raise Unavailable("the store is closed")
        return self._db.transaction()

    def _drop(self, tenant: str, name: str) -> int | None:
        with self._indexes.lock(tenant, name):
            with self._tx() as conn:
                count = rows.delete_collection(conn, tenant, name)
                self._db.notify(conn, rows.CHANNEL)
            self.sync.forget(tenant, name)
        return count

    def _open_many(self, c: Collection, ids: Sequence[int]) -> dict[int, StoredChunk | None]:
        opened: dict[int, StoredChunk | None] = dict.fromkeys(ids)
        if not ids:
            return opened
        with self._tx() as conn:
            found = conn.execute(
                f"SELECT {rows.CHUNK_COLUMNS} FROM store_chunks "  # noqa: S608 - constant columns
                "WHERE id = ANY(%s) AND tenant = %s AND collection = %s",
                (list(ids), c.tenant, c.name),
            ).fetchall()
        for row in found:
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
