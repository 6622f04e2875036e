"""Row <-> record mapping shared by the SQLite and PostgreSQL backends.

Both backends have the same ``store_collections`` and ``store_chunks`` columns (only the column types and the
placeholder style differ), so the column lists, the statements built from them and the conversions of a row
into a ``Collection`` or ``SealedChunk`` live here once. ``DecryptingSource`` is the part of a backend's
``VectorSource`` that turns (id, record id, vector ciphertext) rows into an index's ids and vectors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gateway.errors import DecryptionFailed
from gateway.store.base import Collection, IntegrityFailure
from gateway.store.codec import ChunkCodec, SealedChunk

COLLECTION_COLUMNS = "tenant, name, model, model_version, dimension, index_type, retain_text, created_at, chunk_count"
CHUNK_COLUMNS = (
    "id, record_id, document_id, chunk_index, span_start, span_end, vector, text, metadata, provenance, "
    "key_version, created_at, audit_index"
)
_NEW_COLLECTION = ("tenant", "name", "model", "model_version", "dimension", "index_type", "retain_text", "created_at")
_NEW_CHUNK = ("record_id", "tenant", "collection", "document_id", "chunk_index", "span_start", "span_end", "vector",
              "text", "metadata", "provenance", "key_version", "created_at", "audit_index")  # fmt: skip


def insert_collection_sql(mark: str) -> str:
    """The INSERT of a new collection with ``mark`` (``?`` or ``%s``) as the placeholder."""
    return _insert("store_collections", _NEW_COLLECTION, mark)


def insert_chunk_sql(mark: str) -> str:
    """The INSERT of a sealed chunk with ``mark`` (``?`` or ``%s``) as the placeholder."""
    return _insert("store_chunks", _NEW_CHUNK, mark)


def collection_values(c: Collection) -> tuple[Any, ...]:
    """Parameters of ``insert_collection_sql``, in its column order."""
    return (c.tenant, c.name, c.model, c.model_version, c.dimension, c.index_type, c.retain_text, c.created_at)


def chunk_values(c: Collection, s: SealedChunk) -> tuple[Any, ...]:
    """Parameters of ``insert_chunk_sql``, in its column order."""
    return (s.record_id, c.tenant, c.name, s.document_id, s.chunk_index, s.span[0], s.span[1], s.vector,
            s.text, s.metadata, s.provenance, s.key_version, s.created_at, s.audit_index)  # fmt: skip


def to_collection(row: Sequence[Any]) -> Collection:
    """A row of ``COLLECTION_COLUMNS`` (SQLite's integer booleans included)."""
    tenant, name, model, version, dimension, index_type, retain, created, count = row
    return Collection(tenant, name, model, version, int(dimension), index_type, bool(retain), created, int(count))


def to_sealed(row: Sequence[Any]) -> tuple[int, SealedChunk]:
    """A row of ``CHUNK_COLUMNS``: (chunk id, the sealed chunk); BLOBs and BYTEAs both become ``bytes``."""
    (chunk_id, record_id, document_id, index, start, end, vector, text, metadata, provenance,
     key_version, created_at, audit_index) = row  # fmt: skip
    return int(chunk_id), SealedChunk(
        record_id, document_id, int(index), (int(start), int(end)), bytes(vector),
        None if text is None else bytes(text), bytes(metadata), provenance, int(key_version), created_at,
        None if audit_index is None else int(audit_index),
    )  # fmt: skip


class DecryptingSource:
    """Opens vector ciphertexts for an index; one that does not open is reported and left out."""

    def __init__(self, codec: ChunkCodec, report: Callable[[IntegrityFailure], None]) -> None:
        self._codec = codec
        self._report = report

    def _open(self, c: Collection, rows: Sequence[Sequence[Any]]) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of the (chunk id, record id, vector ciphertext) rows that open, in row order."""
        ids: list[int] = []
        vectors: list[np.ndarray] = []
        for chunk_id, record_id, blob in rows:
            try:
                vectors.append(self._codec.open_vector(c, record_id, bytes(blob)))
            except DecryptionFailed:
                self._report(IntegrityFailure(c.tenant, c.name, record_id, "index"))
                continue
            ids.append(int(chunk_id))
        matrix = np.vstack(vectors) if vectors else np.zeros((0, c.dimension), dtype=np.float32)
        return np.asarray(ids, dtype=np.int64), np.ascontiguousarray(matrix, dtype=np.float32)


def _insert(table: str, columns: Sequence[str], mark: str) -> str:
    marks = ", ".join([mark] * len(columns))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608 - constant names only
