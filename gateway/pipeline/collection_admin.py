"""The collection and document administration use cases: create, describe, list and delete collections; read a
document's provenance records and delete a document.

Each returns the response data and the fields of its audit entry; the guard records the entry. Another tenant's
collection never reaches here: the guard resolves the collection in the caller's tenant first (404 otherwise).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.auth.apikeys import Principal
from gateway.errors import BadRequest, NotFound
from gateway.pii.fields import Detect, screen_name
from gateway.pipeline.collections import CollectionService
from gateway.pipeline.offload import off_loop
from gateway.policy.loader import GatewayPolicy
from gateway.store.base import INDEX_TYPES, Collection, Store, StoredChunk


@dataclass(frozen=True)
class CreateCollection:
    name: str
    model: str  # ``name`` or ``name@major.minor[.patch]``
    index_type: str = "flat"


@dataclass(frozen=True)
class CollectionRef:
    name: str


@dataclass(frozen=True)
class DocumentRef:
    collection: str
    document_id: str


@dataclass(frozen=True)
class AdminResult:
    body: dict[str, Any]  # the response
    audit: dict[str, Any]  # the fields of its audit entry


def parse_create(body: Any, default_model: str) -> CreateCollection:
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object with 'name' and 'model'")
    name, model = body.get("name"), body.get("model", default_model)
    index_type = body.get("index_type", "flat")
    if not isinstance(name, str):
        raise BadRequest("'name' is required and must be a string", param="name")
    if not isinstance(model, str):
        raise BadRequest("'model' must be a string", param="model")
    if index_type not in INDEX_TYPES:
        raise BadRequest(f"'index_type' must be one of {', '.join(INDEX_TYPES)}", param="index_type")
    return CreateCollection(name, model, index_type)


def collection_json(c: Collection) -> dict[str, Any]:
    return {
        "name": c.name, "model": c.model, "model_version": c.model_version, "dimension": c.dimension,
        "index_type": c.index_type, "retain_text": c.retain_text, "created_at": c.created_at,
        "chunk_count": c.chunk_count,
    }


def provenance_json(chunk: StoredChunk) -> dict[str, Any]:
    return {
        "record_id": chunk.record_id, "document_id": chunk.document_id, "chunk_index": chunk.chunk_index,
        "span": list(chunk.span), "key_version": chunk.key_version, "created_at": chunk.created_at,
        "audit_index": chunk.audit_index, "provenance": dict(chunk.provenance),
    }


class CollectionAdmin:
    def __init__(
        self,
        collections: CollectionService,
        store: Store,
        policy: Callable[[], GatewayPolicy],
        detect: Detect,
        *,
        remote: bool,
    ) -> None:
        self._collections = collections
        self._store = store
        self._policy = policy
        self._detect = detect
        self._remote = remote  # the store is across the network (PostgreSQL): even small reads leave the loop

    async def create(self, request: CreateCollection, principal: Principal) -> AdminResult:
        """A collection bound to the model's embedding space; its name is screened for PII first (400)."""
        policy = self._policy()
        await screen_name(self._detect, request.name, policy.scope(principal.tenant, request.name), "name")
        c = await off_loop(self._remote, self._collections.create, principal, request.name, request.model,
                           request.index_type, policy)
        return AdminResult(collection_json(c),
                           {"collection": c.name, "model": {"name": c.model, "version": c.model_version}})

    async def list_collections(self, principal: Principal) -> AdminResult:
        items = await off_loop(self._remote, self._store.list_collections, principal.tenant)
        return AdminResult({"collections": [collection_json(c) for c in items]}, {"count": len(items)})

    def describe(self, collection: Collection) -> AdminResult:
        return AdminResult(collection_json(collection), {"collection": collection.name})

    async def delete(self, request: CollectionRef, principal: Principal) -> AdminResult:
        # Off the event loop, like every write: deleting a large collection's rows and files takes a while.
        removed = await off_loop(True, self._store.delete_collection, principal.tenant, request.name)
        return AdminResult({"deleted": request.name, "chunks_removed": removed},
                           {"collection": request.name, "count": removed})

    async def read_document(self, request: DocumentRef, principal: Principal) -> AdminResult:
        chunks = await off_loop(True, self._store.document, principal.tenant, request.collection,
                                request.document_id)
        return AdminResult(
            {"collection": request.collection, "document_id": request.document_id,
             "chunks": [provenance_json(c) for c in chunks]},
            {"collection": request.collection, "document_id": request.document_id, "count": len(chunks)},
        )

    async def delete_document(self, request: DocumentRef, principal: Principal) -> AdminResult:
        removed = await off_loop(True, self._store.delete_document, principal.tenant, request.collection,
                                 request.document_id)
        if removed == 0:
            raise NotFound(f"no such document in collection {request.collection}", param="document_id")
        return AdminResult({"deleted": request.document_id, "chunks_removed": removed},
                           {"collection": request.collection, "document_id": request.document_id,
                            "count": removed})
