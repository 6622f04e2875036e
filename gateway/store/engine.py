"""The backend-independent half of every ``Store``: validation, sealing, opening, search and integrity reports.

``StoreEngine`` implements the ``Store`` methods whose logic does not depend on the database, over a few
hooks each backend fills with its own SQL and transactions: reading collection and chunk rows, inserting a
collection, writing a sealed batch, dropping a collection and handing out the live FAISS index. So the
SQLite and PostgreSQL backends cannot drift apart in what they check, how they over-fetch for a filtered
search, or how an unreadable record is reported.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace as with_fields
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

import numpy as np

from gateway.crypto import Envelope
from gateway.errors import BadRequest, Conflict, DecryptionFailed, NotFound
from gateway.observability import tracing
from gateway.store.base import (
    Collection,
    Hit,
    IntegrityCallback,
    IntegrityFailure,
    NewChunk,
    StoredChunk,
    VectorSample,
    check_batch,
    check_chunk,
    check_collection,
    check_search,
    check_vector,
    matches,
)
from gateway.store.codec import ChunkCodec, SealedChunk
from gateway.store.faiss_index import VectorIndex
from gateway.store.indexes import IndexManager
from gateway.store.rows import COLLECTION_COLUMNS, to_collection, to_sealed
from gateway.store.sampling import SqlSampler

log = logging.getLogger(__name__)
_OVERFETCH = 4
Row = Sequence[Any]
ChunkKey = Literal["record_id", "document_id"]


class StoreEngine(ABC):
    """What every backend's ``Store`` shares; a subclass sets ``_indexes`` and implements the hooks below."""

    backend: ClassVar[str]
    duplicate: ClassVar[type[Exception]]  # the driver's unique-violation error: becomes ``Conflict``
    _placeholder: ClassVar[str]  # the driver's parameter mark in SQL
    _indexes: IndexManager

    def __init__(
        self,
        envelope: Envelope,
        on_integrity_failure: IntegrityCallback | None,
        clock: Callable[[], datetime],
        new_id: Callable[[], str],
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self._envelope = envelope
        self._codec = ChunkCodec(envelope)
        self._on_failure = on_integrity_failure
        self._clock = clock
        self._new_id = new_id
        self._on_close = on_close
        self.integrity_failures = 0
        self._closed = False

    # ---- hooks: the backend's SQL -------------------------------------------------------------------------
    @abstractmethod
    def _collection_rows(self, tenant: str, name: str | None) -> Sequence[Row]:
        """Rows of ``COLLECTION_COLUMNS``: the one named, or all of the tenant's by name when ``name`` is None."""

    @abstractmethod
    def _insert_collection(self, c: Collection) -> None:
        """Insert a stamped collection; the driver's ``duplicate`` error when the tenant has the name."""

    @abstractmethod
    def _chunk_rows(self, c: Collection, key: ChunkKey, value: str) -> Sequence[Row]:
        """Rows of ``CHUNK_COLUMNS`` of ``c`` whose ``key`` column equals ``value``, by chunk index."""

    @abstractmethod
    def _rows_by_id(self, c: Collection, ids: Sequence[int]) -> Iterable[Row]:
        """Rows of ``CHUNK_COLUMNS`` of ``c`` among the chunk ids ``ids`` (never another collection's)."""

    @abstractmethod
    def _write(self, c: Collection, sealed: list[SealedChunk], vectors: np.ndarray, replace: bool) -> None:
        """Commit the batch (after removing its documents' chunks where ``replace``) and update the index."""

    @abstractmethod
    def _drop(self, tenant: str, name: str) -> int | None:
        """Delete a collection, its chunks and its index; the chunk count, or None if there was none."""

    @abstractmethod
    def _forget_changes(self, tenant: str) -> None:
        """Delete every change row of ``tenant`` (after a shred: the rows name its collections)."""

    @abstractmethod
    def _purge(self, c: Collection, cutoff: str) -> list[int]:
        """Delete ``c``'s chunks whose ``created_at`` sorts before ``cutoff`` (ISO 8601, UTC) and their index
        entries; returns their chunk ids."""

    @abstractmethod
    def _mark_unfinished(self, audit_indexes: Sequence[int]) -> list[int]:
        """See ``Store.mark_unfinished``."""

    def mark_unfinished(self, audit_indexes: Sequence[int]) -> list[int]:
        return self._mark_unfinished(sorted(set(audit_indexes))) if audit_indexes else []

    @abstractmethod
    def _live_index(self, c: Collection) -> VectorIndex:
        """The collection's live index, current with at least this replica's own writes."""

    @abstractmethod
    def _query(self, sql: str, params: tuple[Any, ...]) -> Sequence[Sequence[Any]]:
        """Run one read-only statement written with ``self._placeholder`` marks."""

    @abstractmethod
    def _usage(self) -> dict[str, Any]:
        """Health counters: collections, chunks, change_seq and ok (``{"ok": False}`` when unreachable)."""

    # ---- Store --------------------------------------------------------------------------------------------
    def create_collection(self, c: Collection) -> Collection:
        check_collection(c)
        stored = with_fields(c, created_at=self._clock().isoformat(), chunk_count=0)
        try:
            self._insert_collection(stored)
        except self.duplicate:
            raise Conflict("a collection with this name already exists", param="name") from None
        return stored

    def get_collection(self, tenant: str, name: str) -> Collection:
        found = self._collection_rows(tenant, name)
        if not found:
            raise NotFound("collection not found", param="collection")
        return to_collection(found[0])

    def list_collections(self, tenant: str) -> list[Collection]:
        return [to_collection(row) for row in self._collection_rows(tenant, None)]

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
        with tracing.span("encrypt", {"gateway.chunks": len(chunks)}):
            sealed = [self._codec.seal(c, self._new_id(), chunk, vector, now, audit_index)
                      for chunk, vector in zip(chunks, vectors, strict=True)]  # fmt: skip
        try:
            with tracing.span("store", {"gateway.chunks": len(chunks)}):
                self._write(c, sealed, vectors, replace)
        except self.duplicate:
            raise Conflict("a chunk of this document is already stored", param="document_id") from None
        return [s.record_id for s in sealed]

    def get(self, tenant: str, collection: str, record_id: str) -> StoredChunk:
        c = self.get_collection(tenant, collection)
        found = self._chunk_rows(c, "record_id", record_id)
        if not found:
            raise NotFound("record not found", param="record_id")
        return self._open_or_raise(c, to_sealed(found[0])[1], "get")

    def document(self, tenant: str, collection: str, document_id: str) -> list[StoredChunk]:
        c = self.get_collection(tenant, collection)
        found = self._chunk_rows(c, "document_id", document_id)
        if not found:
            raise NotFound("document not found", param="document_id")
        return [self._open_or_raise(c, to_sealed(row)[1], "document") for row in found]

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
        index = self._live_index(c)
        opened: dict[int, StoredChunk | None] = {}
        # Metadata is encrypted, so the filter runs after decryption: over-fetch until k match or none are left.
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

    def all_collections(self) -> list[Collection]:
        sql = f"SELECT {COLLECTION_COLUMNS} FROM store_collections ORDER BY tenant, name"  # noqa: S608 - constant
        return [to_collection(row) for row in self._query(sql, ())]

    def purge_before(self, tenant: str, collection: str, cutoff: datetime) -> int:
        stamp = _stamp(cutoff)
        c = self.get_collection(tenant, collection)
        removed = self._purge(c, stamp)
        if removed:
            self._indexes.snapshot_now(c)
        return len(removed)

    def count_before(self, tenant: str, collection: str, cutoff: datetime) -> int:
        stamp = _stamp(cutoff)
        c = self.get_collection(tenant, collection)
        p = self._placeholder
        sql = f"SELECT COUNT(*) FROM store_chunks WHERE tenant = {p} AND collection = {p} AND created_at < {p}"  # noqa: S608
        return int(self._query(sql, (c.tenant, c.name, stamp))[0][0])

    def record_ids(self, tenant: str, collection: str) -> list[str]:
        c = self.get_collection(tenant, collection)
        p = self._placeholder
        sql = f"SELECT record_id FROM store_chunks WHERE tenant = {p} AND collection = {p} ORDER BY id"  # noqa: S608
        return [str(row[0]) for row in self._query(sql, (c.tenant, c.name))]

    def sample_vectors(self, tenant: str, collection: str, limit: int) -> VectorSample:
        if limit < 1:
            raise BadRequest("a vector sample needs a limit of at least 1", param="limit")
        c = self.get_collection(tenant, collection)
        return SqlSampler(self._query, self._codec, self._placeholder).sample(c, limit)

    def shred_tenant(self, tenant: str) -> int:
        self._envelope.shred(tenant)  # first: even a crash halfway leaves nothing readable
        total = sum(self._drop(tenant, c.name) or 0 for c in self.list_collections(tenant))
        # The drops' change rows name the collections; a replica that still holds one of their indexes can no
        # longer reach it (the collection row is gone) and reloads a recreated namesake (its created_at differs).
        self._forget_changes(tenant)
        return total

    def health(self) -> dict[str, Any]:
        status: dict[str, Any] = {"backend": self.backend, "open": not self._closed, **self._usage()}
        status["integrity_failures"] = self.integrity_failures
        status.update(self._indexes.health())
        return status

    def flush(self) -> None:
        self._indexes.flush()

    def close(self) -> None:
        """Write the final snapshots, then run ``on_close`` (an owner stops its listener and pool there)."""
        if not self._closed:
            self._closed = True
            self._indexes.close()
            if self._on_close is not None:
                self._on_close()

    # ---- opening records ----------------------------------------------------------------------------------
    def _open_many(self, c: Collection, ids: Sequence[int]) -> dict[int, StoredChunk | None]:
        """Search candidates by chunk id: None for one gone meanwhile or one that does not open (reported)."""
        opened: dict[int, StoredChunk | None] = dict.fromkeys(ids)
        if not ids:
            return opened
        for row in self._rows_by_id(c, ids):
            chunk_id, sealed = to_sealed(row)
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


def _stamp(cutoff: datetime) -> str:
    """A retention cutoff as ``created_at`` is written (``datetime.now(UTC).isoformat()``: the same form compares in
    time order as text); ``BadRequest`` without a time zone."""
    if cutoff.tzinfo is None:
        raise BadRequest("the retention cutoff needs a time zone", param="cutoff")
    return cutoff.astimezone(UTC).isoformat()
