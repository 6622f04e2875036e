"""Encrypted vector storage with provenance: the ``Store`` interface and the logic every backend shares.

``base`` defines the interface and records; ``codec`` how a chunk becomes ciphertexts, ``rows`` the row mapping
and ``engine`` the backend-independent ``Store`` logic (all shared by backends); ``faiss_index`` and
``indexes`` the FAISS side; ``sqlite`` the embedded backend, ``postgres`` the scale-out one. See
``docs/storage.md``.
"""

from gateway.store.base import (
    INDEX_TYPES,
    Collection,
    Hit,
    IndexType,
    IntegrityCallback,
    IntegrityFailure,
    NewChunk,
    Store,
    StoredChunk,
    VectorSample,
    space_of,
)
from gateway.store.faiss_index import IndexSettings

__all__ = [
    "INDEX_TYPES",
    "Collection",
    "Hit",
    "IndexSettings",
    "IndexType",
    "IntegrityCallback",
    "IntegrityFailure",
    "NewChunk",
    "Store",
    "StoredChunk",
    "VectorSample",
    "space_of",
]
