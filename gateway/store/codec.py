"""How a chunk becomes ciphertexts and back; shared by every backend so they store the same bytes.

Each chunk is three AES-256-GCM envelope ciphertexts, each under
``RecordContext(tenant, collection, "<record id>/<field>", model_version)``, field one of ``vector``,
``text``, ``metadata``. The field name in the record id means a text ciphertext put in the vector column (or
another record's ciphertext, or one from another collection or tenant) does not open.

Provenance is stored in clear (it holds no PII values), but it is bound to the record: the metadata
plaintext carries the document id, chunk index, span and the SHA-256 of the provenance JSON, and ``open``
checks them. Editing a clear column is caught like a flipped ciphertext byte: ``DecryptionFailed``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gateway.crypto import Envelope, RecordContext, key_version_of
from gateway.errors import DecryptionFailed
from gateway.store.base import Collection, NewChunk, StoredChunk, canonical_json

VECTOR, TEXT, METADATA = "vector", "text", "metadata"


@dataclass(frozen=True)
class SealedChunk:
    """A chunk as a backend stores it: ciphertexts plus the clear columns lineage queries need."""

    record_id: str
    document_id: str
    chunk_index: int
    span: tuple[int, int]
    vector: bytes = field(repr=False)
    text: bytes | None = field(repr=False)
    metadata: bytes = field(repr=False)
    provenance: str
    key_version: int
    created_at: str
    audit_index: int | None


class ChunkCodec:
    def __init__(self, envelope: Envelope) -> None:
        self._envelope = envelope

    def seal(
        self,
        c: Collection,
        record_id: str,
        chunk: NewChunk,
        vector: np.ndarray,
        created_at: str,
        audit_index: int | None,
    ) -> SealedChunk:
        """Encrypt one chunk's fields; the text only where the collection retains text."""
        provenance = canonical_json(chunk.provenance)
        bound = {
            "metadata": dict(chunk.metadata),
            "document_id": chunk.document_id,
            "chunk_index": chunk.chunk_index,
            "span": list(chunk.span),
            "provenance_sha256": _digest(provenance),
        }
        sealed_vector = self._seal(c, record_id, VECTOR, np.asarray(vector, dtype="<f4").tobytes())
        text = None
        if c.retain_text and chunk.text is not None:
            text = self._seal(c, record_id, TEXT, chunk.text.encode("utf-8"))
        return SealedChunk(
            record_id=record_id,
            document_id=chunk.document_id,
            chunk_index=chunk.chunk_index,
            span=(int(chunk.span[0]), int(chunk.span[1])),
            vector=sealed_vector,
            text=text,
            metadata=self._seal(c, record_id, METADATA, canonical_json(bound).encode("utf-8")),
            provenance=provenance,
            key_version=key_version_of(sealed_vector),
            created_at=created_at,
            audit_index=audit_index,
        )

    def open_vector(self, c: Collection, record_id: str, blob: bytes) -> np.ndarray:
        raw = self._envelope.decrypt(_context(c, record_id, VECTOR), blob)
        if len(raw) != 4 * c.dimension:
            raise DecryptionFailed()
        return np.frombuffer(raw, dtype="<f4").astype(np.float32)

    def open(self, c: Collection, sealed: SealedChunk) -> StoredChunk:
        """Decrypt and check every field (the vector too, so a tampered vector is never served)."""
        self.open_vector(c, sealed.record_id, sealed.vector)
        bound = self._open_json(c, sealed.record_id, sealed.metadata)
        if (
            bound.get("document_id") != sealed.document_id
            or bound.get("chunk_index") != sealed.chunk_index
            or bound.get("span") != list(sealed.span)
            or bound.get("provenance_sha256") != _digest(sealed.provenance)
        ):
            raise DecryptionFailed()
        text = None
        if sealed.text is not None:
            text = self._envelope.decrypt(_context(c, sealed.record_id, TEXT), sealed.text).decode("utf-8")
        return StoredChunk(
            record_id=sealed.record_id,
            document_id=sealed.document_id,
            chunk_index=sealed.chunk_index,
            span=sealed.span,
            text=text,
            metadata=bound["metadata"],
            provenance=json.loads(sealed.provenance),
            key_version=sealed.key_version,
            created_at=sealed.created_at,
            audit_index=sealed.audit_index,
        )

    def _seal(self, c: Collection, record_id: str, name: str, plaintext: bytes) -> bytes:
        return self._envelope.encrypt(_context(c, record_id, name), plaintext)

    def _open_json(self, c: Collection, record_id: str, blob: bytes) -> dict[str, Any]:
        raw = self._envelope.decrypt(_context(c, record_id, METADATA), blob)
        try:
            value = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise DecryptionFailed() from None
        if not isinstance(value, dict) or not isinstance(value.get("metadata"), dict):
            raise DecryptionFailed()
        return value


def _context(c: Collection, record_id: str, name: str) -> RecordContext:
    return RecordContext(c.tenant, c.name, f"{record_id}/{name}", c.model_version)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
