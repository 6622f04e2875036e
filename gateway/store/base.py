"""The ``Store`` interface every storage backend implements, and the records that cross it.

One contract suite (``tests/unit/store/test_contract.py``) runs against every backend, so a caller never
learns which one it has. Plain text and vectors exist only in memory: each backend stores them as
envelope ciphertexts (see ``docs/storage.md``). Errors come from ``gateway.errors``: ``NotFound`` for an
unknown *or foreign* collection or record (existence is not leaked), ``Conflict`` for a duplicate, ``BadRequest``
for malformed input, ``DecryptionFailed`` for a record that does not open.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, get_args

import numpy as np

from gateway.errors import BadRequest, Conflict

IndexType = Literal["flat", "hnsw", "ivf"]
INDEX_TYPES: tuple[str, ...] = get_args(IndexType)
MAX_K = 1000
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}\Z")
_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)\Z")
_UNIT_TOLERANCE = 1e-3


@dataclass(frozen=True)
class Collection:
    """A tenant's named set of chunks, bound to one model and embedding-space version (major.minor)."""

    tenant: str
    name: str
    model: str
    model_version: str  # full semver of the embedding space at creation; its major.minor binds the collection
    dimension: int
    index_type: IndexType
    retain_text: bool
    created_at: str = ""  # stamped by the store
    chunk_count: int = 0  # filled in by get/list


@dataclass(frozen=True, eq=False)
class NewChunk:
    """What the pipeline hands to ``Store.put``: a protected vector and the chunk's governed fields."""

    document_id: str
    chunk_index: int
    span: tuple[int, int]
    vector: np.ndarray = field(repr=False)  # the protected (noisy) unit float32 vector
    text: str | None = field(repr=False)  # redacted text; stored (encrypted) only if the collection retains text
    metadata: Mapping[str, Any] = field(repr=False)  # caller's metadata: may hold personal data, so encrypted
    provenance: Mapping[str, Any]  # no PII values: digests, entity types/counts, versions, sigma, actor


@dataclass(frozen=True)
class StoredChunk:
    """One stored chunk, decrypted: the lineage record of ``Store.get`` and ``Store.document``."""

    record_id: str
    document_id: str
    chunk_index: int
    span: tuple[int, int]
    text: str | None = field(repr=False)
    metadata: Mapping[str, Any] = field(repr=False)
    provenance: Mapping[str, Any]
    key_version: int
    created_at: str
    audit_index: int | None = None


@dataclass(frozen=True)
class Hit:
    """One search result; ``score`` is the inner product of unit vectors (cosine similarity)."""

    record_id: str
    document_id: str
    chunk_index: int
    span: tuple[int, int]
    score: float
    metadata: Mapping[str, Any] = field(repr=False)
    provenance: Mapping[str, Any]
    text: str | None = field(repr=False)

    @classmethod
    def of(cls, chunk: StoredChunk, score: float) -> Hit:
        return cls(chunk.record_id, chunk.document_id, chunk.chunk_index, chunk.span, score,
                   chunk.metadata, chunk.provenance, chunk.text)  # fmt: skip


@dataclass(frozen=True)
class IntegrityFailure:
    """A stored ciphertext that did not open; reported so the caller can audit ``crypto.integrity_failure``."""

    tenant: str
    collection: str
    record_id: str
    operation: str  # "get", "document", "search" or "index"


IntegrityCallback = Callable[[IntegrityFailure], None]


@dataclass(frozen=True)
class VectorSample:
    """What ``Store.sample_vectors`` returns: decrypted vectors evenly spaced in insertion order, with their times."""

    created_at: list[str]  # one creation time per row of ``vectors``, in insertion order
    vectors: np.ndarray = field(repr=False)  # (len(created_at), dimension) float32
    total: int  # chunks in the collection
    unreadable: int  # sampled ciphertexts that did not open (skipped, never shown)


class Store(Protocol):
    """Encrypted chunks with provenance, and nearest-neighbour search over them, isolated per tenant."""

    def create_collection(self, c: Collection) -> Collection:
        """Store a new collection (``created_at`` stamped); ``Conflict`` if the tenant already has the name."""
        ...

    def get_collection(self, tenant: str, name: str) -> Collection:
        """``NotFound`` also when the name belongs to another tenant."""
        ...

    def list_collections(self, tenant: str) -> list[Collection]: ...

    def delete_collection(self, tenant: str, name: str) -> int:
        """Delete the collection, its chunks, index and snapshot; returns the number of chunks removed."""
        ...

    def put(
        self,
        tenant: str,
        collection: str,
        chunks: Sequence[NewChunk],
        audit_index: int | None,
        *,
        replace: bool = False,
    ) -> list[str]:
        """Store all chunks or none; returns their record ids in order.

        A (document id, chunk index) already present is a ``Conflict`` unless ``replace`` is set, which first
        removes every stored chunk of the documents being put, in the same transaction.
        """
        ...

    def get(self, tenant: str, collection: str, record_id: str) -> StoredChunk:
        """``NotFound`` for an unknown record, ``DecryptionFailed`` for one that does not open."""
        ...

    def document(self, tenant: str, collection: str, document_id: str) -> list[StoredChunk]:
        """The chunks of one document by chunk index (its lineage); ``NotFound`` if it has none."""
        ...

    def delete_document(self, tenant: str, collection: str, document_id: str) -> int:
        """Delete a document's chunks from records and index; returns how many there were (0: none)."""
        ...

    def search(
        self,
        tenant: str,
        collection: str,
        vector: np.ndarray,
        k: int,
        filter: Mapping[str, Any] | None = None,  # the API's own word
    ) -> list[Hit]:
        """The ``k`` nearest readable chunks, best first; ``filter`` is exact match on metadata keys.

        Metadata is encrypted, so the filter runs after decryption on an over-fetched candidate list. A chunk
        that does not open is skipped and reported through the store's integrity callback.
        """
        ...

    def record_ids(self, tenant: str, collection: str) -> list[str]:
        """Every record id of the collection, in insertion order (what a migration walks); ``NotFound`` as ``get``."""
        ...

    def sample_vectors(self, tenant: str, collection: str, limit: int) -> VectorSample:
        """At most ``limit`` decrypted vectors, evenly spaced in insertion order, for the console's projection.

        However large the collection, at most ``limit`` ciphertexts are read and opened; one that does not open
        is skipped and counted in ``unreadable``. ``BadRequest`` for a ``limit`` below 1.
        """
        ...

    def shred_tenant(self, tenant: str) -> int:
        """Crypto-shred the tenant's data keys and forget all it stored: returns the chunks forgotten."""
        ...

    def all_collections(self) -> list[Collection]:
        """Every tenant's collections, by tenant then name: for maintenance (the retention sweep), never a request."""
        ...

    def purge_before(self, tenant: str, collection: str, cutoff: datetime) -> int:
        """Delete the chunks stored before ``cutoff`` (timezone-aware) from records, ciphertexts and index, and
        rewrite the index snapshot without them; returns how many were deleted (0: none that old)."""
        ...

    def count_before(self, tenant: str, collection: str, cutoff: datetime) -> int:
        """How many chunks ``purge_before`` would delete at ``cutoff``, deleting nothing."""
        ...

    def health(self) -> dict[str, Any]: ...

    def flush(self) -> None:
        """Wait until background index work (rebuilds, encrypted snapshots) is done: for tests and tools."""
        ...

    def mark_unfinished(self, audit_indexes: Sequence[int]) -> list[int]:
        """Of these ingest entries' indexes, those whose write never committed, now marked so that it never will.

        Every ``put`` with an audit index records the index in the same transaction as its chunks. An index absent
        from that record belongs to a write that did not happen (the process died between the audit entry and the
        commit); it is marked in one transaction, so a late write for it fails instead of contradicting the log,
        and each is returned once, whichever replica asks first.
        """
        ...

    def close(self) -> None: ...


def space_of(model_version: str) -> tuple[int, int]:
    """(major, minor) of a semantic version: what a collection is bound to."""
    match = _SEMVER.match(model_version)
    if match is None:
        raise BadRequest("model_version must be a semantic version MAJOR.MINOR.PATCH", param="model_version")
    return int(match.group(1)), int(match.group(2))


def is_collection_name(name: object) -> bool:
    """Whether ``name`` could name a collection (whole-string match: no trailing newline slips through)."""
    return isinstance(name, str) and _NAME.fullmatch(name) is not None


def check_collection(c: Collection) -> None:
    """Reject a malformed collection before anything is written."""
    if not c.tenant or len(c.tenant) > 128:
        raise BadRequest("tenant must be 1 to 128 characters", param="tenant")
    if not _NAME.match(c.name):
        raise BadRequest("collection name must be 1-128 of letters, digits, '_', '.', '-'", param="name")
    if not c.model:
        raise BadRequest("model is required", param="model")
    space_of(c.model_version)
    if not 1 <= c.dimension <= 65536:
        raise BadRequest("dimension must be between 1 and 65536", param="dimension")
    if c.index_type not in INDEX_TYPES:
        raise BadRequest(f"index_type must be one of {', '.join(INDEX_TYPES)}", param="index_type")


def check_vector(vector: np.ndarray, dimension: int, *, unit: bool) -> np.ndarray:
    """A finite float32 vector of the collection's dimension (unit length where ``unit``), as a C array."""
    array = np.ascontiguousarray(np.asarray(vector, dtype=np.float32).reshape(-1))
    if array.shape != (dimension,):
        raise BadRequest(f"vector dimension must be {dimension}", param="vector")
    if not np.all(np.isfinite(array)):
        raise BadRequest("vector must be finite", param="vector")
    if unit and abs(float(np.linalg.norm(array)) - 1.0) > _UNIT_TOLERANCE:
        raise BadRequest("vector must have unit length", param="vector")
    return array


def check_chunk(chunk: NewChunk, dimension: int) -> np.ndarray:
    """Validate one chunk; returns its vector as float32."""
    if not chunk.document_id or len(chunk.document_id) > 256:
        raise BadRequest("document id must be 1 to 256 characters", param="document_id")
    if chunk.chunk_index < 0:
        raise BadRequest("chunk index must not be negative", param="chunk_index")
    start, end = chunk.span
    if not 0 <= start <= end:
        raise BadRequest("chunk span must be 0 <= start <= end", param="span")
    canonical_json(chunk.metadata)
    canonical_json(chunk.provenance)
    return check_vector(chunk.vector, dimension, unit=True)


def check_batch(c: Collection, chunks: Sequence[NewChunk]) -> None:
    """Each (document, chunk index) once per batch; vectors of the collection's embedding space only."""
    if len({(chunk.document_id, chunk.chunk_index) for chunk in chunks}) != len(chunks):
        raise BadRequest("a (document id, chunk index) pair appears twice in the batch", param="chunks")
    for chunk in chunks:
        version = chunk.provenance.get("model_version")
        if isinstance(version, str) and space_of(version) != space_of(c.model_version):
            raise Conflict("the vectors come from another embedding-space version than the collection's")


def check_search(k: int, filter: Mapping[str, Any] | None) -> None:
    if not 1 <= k <= MAX_K:
        raise BadRequest(f"k must be between 1 and {MAX_K}", param="k")
    if filter is not None:
        for key, value in filter.items():
            if not isinstance(key, str) or not isinstance(value, str | int | float | bool | None):
                raise BadRequest("filter must map metadata keys to scalar values", param="filter")


def matches(metadata: Mapping[str, Any], filter: Mapping[str, Any] | None) -> bool:
    """Exact match on every filter key; a missing key never matches."""
    if not filter:
        return True
    return all(key in metadata and _same(metadata[key], value) for key, value in filter.items())


def _same(stored: Any, wanted: Any) -> bool:
    # In Python True == 1; in a filter on JSON metadata they are different values.
    if isinstance(stored, bool) or isinstance(wanted, bool):
        return stored is wanted
    return bool(stored == wanted)


def canonical_json(value: Mapping[str, Any]) -> str:
    """Deterministic JSON (sorted keys, no NaN); ``BadRequest`` for anything JSON cannot carry."""
    try:
        return json.dumps(dict(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        raise BadRequest("metadata and provenance must be JSON objects") from None
