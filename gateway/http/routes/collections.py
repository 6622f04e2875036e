"""Collection routes: create/list/delete collections, ingest documents, search, provenance, delete documents.

Another tenant's collection does not exist for the caller: every route answers 404 for it, before any role check,
so neither existence nor permissions leak across tenants.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any

from litestar import Request, Response, delete, get, post

from gateway.bootstrap import Services
from gateway.errors import BadRequest
from gateway.http.guard import Call, Guard, Reply, governed
from gateway.http.routes.embeddings import pii_header
from gateway.pii.fields import screen_name
from gateway.pipeline.collections import IngestOutcome, parse_documents
from gateway.store.base import Collection, Hit, StoredChunk

CREATE = Guard(event="collection.create", obj="collections", act="create", needs_body=True)
LIST = Guard(event="collection.list", obj="collections", act="read")
INFO = Guard(event="collection.list", obj="collections", act="read", collection_param="name")
DROP = Guard(event="collection.delete", obj="collections", act="delete", collection_param="name")
INGEST = Guard(event="document.ingest", obj="documents", act="write", needs_body=True, collection_param="name")
SEARCH = Guard(event="collection.search", obj="collections", act="search", needs_body=True,
               collection_param="name")
READ_DOC = Guard(event="document.read", obj="documents", act="read", collection_param="name")
DROP_DOC = Guard(event="document.delete", obj="documents", act="delete", collection_param="name")
INDEX_TYPES = ("flat", "hnsw", "ivf")


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


def hit_json(hit: Hit) -> dict[str, Any]:
    prov = hit.provenance
    out: dict[str, Any] = {
        "document_id": hit.document_id, "chunk_id": hit.record_id, "chunk_index": hit.chunk_index,
        "span": list(hit.span), "score": round(float(hit.score), 6), "metadata": dict(hit.metadata),
        "provenance": {k: prov.get(k) for k in ("model", "policy_version", "pii", "noise_sigma", "time")},
    }
    if hit.text is not None:
        out["text"] = hit.text
    return out


def _name(call: Call) -> str:
    return str(call.request.path_params["name"])


async def _create(call: Call) -> Reply:
    body = call.body
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object with 'name' and 'model'")
    name, model = body.get("name"), body.get("model", call.services.settings.model_name)
    index_type = body.get("index_type", "flat")
    if not isinstance(name, str):
        raise BadRequest("'name' is required and must be a string", param="name")
    if not isinstance(model, str):
        raise BadRequest("'model' must be a string", param="model")
    if index_type not in INDEX_TYPES:
        raise BadRequest(f"'index_type' must be one of {', '.join(INDEX_TYPES)}", param="index_type")
    policy = call.services.policy.current()
    await screen_name(call.services.pipeline.detect, name, policy.scope(call.principal.tenant, name), "name")
    c = call.services.collections.create(call.principal, name, model, index_type, policy)
    return Reply(collection_json(c), status=201,
                 audit={"collection": c.name, "model": {"name": c.model, "version": c.model_version}})


async def _list(call: Call) -> Reply:
    items = call.services.collections.store.list_collections(call.principal.tenant)
    return Reply({"collections": [collection_json(c) for c in items]}, audit={"count": len(items)})


async def _info(call: Call) -> Reply:
    c = call.collection
    return Reply(collection_json(c), audit={"collection": c.name})


async def _drop(call: Call) -> Reply:
    # Off the event loop, like every write below: deleting a large collection's rows and files takes a while.
    removed = await asyncio.to_thread(call.services.collections.store.delete_collection, call.principal.tenant,
                                      _name(call))
    return Reply({"deleted": _name(call), "chunks_removed": removed},
                 audit={"collection": _name(call), "count": removed})


def _outcome_json(o: IngestOutcome) -> dict[str, Any]:
    out = asdict(o)
    if not o.blocked_types:
        del out["blocked_types"]
    return out


async def _ingest(call: Call) -> Reply:
    services = call.services
    docs = parse_documents(call.body, services.settings.max_documents_per_ingest, services.settings.max_text_chars)
    tenant, name, collection = call.principal.tenant, _name(call), call.collection
    policy = services.policy.current()
    scope = policy.scope(tenant, name)
    outcomes, chunks = await services.collections.prepare(call.principal, collection, docs, scope, policy.version)
    summary: dict[str, dict[str, int | str]] = {}
    for o in outcomes:
        for etype, v in o.pii.items():
            slot = summary.setdefault(etype, {"count": 0, "action": v["action"]})
            slot["count"] = int(slot["count"]) + int(v["count"])
    digests = services.pipeline.digests(tenant, [d.id for d in docs])
    audit = {
        "collection": name, "policy_version": policy.version, "noise_sigma": scope.noise_sigma, "pii": summary,
        "model": {"name": collection.model, "version": collection.model_version},
        "documents": [{"id_digest": g.hex()[:32], "status": o.status, "chunks": o.chunks}
                      for g, o in zip(digests, outcomes, strict=True)],
        "count": len(chunks),
    }
    decision = "allow" if all(o.status == "stored" for o in outcomes) else "block"
    # The write's audit entry comes first, so every stored chunk's provenance names the entry that recorded it.
    index = await services.auditor.record("document.ingest", call.ctx, decision, status=200, **audit)
    if index is None:  # only unauthenticated failures are aggregated; this caller is authenticated
        raise RuntimeError("the ingest entry was not written")
    await asyncio.to_thread(services.collections.store_chunks, tenant, name, outcomes, chunks, index)
    call.ctx.extra_headers["X-Gateway-PII"] = pii_header(summary)
    return Reply({"collection": name, "results": [_outcome_json(o) for o in outcomes]}, audited=True)


def _search_args(body: Any) -> tuple[str, int, dict[str, Any] | None]:
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object with 'query'")
    query, k, flt = body.get("query"), body.get("k", 5), body.get("filter")
    if not isinstance(query, str) or not query.strip():
        raise BadRequest("'query' is required and must be a non-empty string", param="query")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 100:
        raise BadRequest("'k' must be an integer from 1 to 100", param="k")
    if flt is not None and not isinstance(flt, dict):
        raise BadRequest("'filter' must be an object of metadata key -> value", param="filter")
    return query, k, flt


async def _search(call: Call) -> Reply:
    services = call.services
    query, k, flt = _search_args(call.body)
    tenant, name, collection = call.principal.tenant, _name(call), call.collection
    scope = services.scope(tenant, name)
    vector, decision = await services.collections.query_vector(call.principal, collection, query, scope)
    with_text = collection.retain_text and services.authorizer.allowed(call.principal, "texts", "read")
    # Off the event loop: a flat search of a large collection takes milliseconds of FAISS (the index is
    # readers-writer locked, SQLite connections are per thread) and, on PostgreSQL, the hits' round trips.
    hits = await asyncio.to_thread(services.collections.search, tenant, name, vector, k, flt, with_text)
    pii = {t: {"count": o.count, "action": o.action} for t, o in decision.entities.items()}
    call.ctx.extra_headers["X-Gateway-PII"] = pii_header(dict(pii))  # type: ignore[arg-type]
    return Reply({"collection": name, "results": [hit_json(h) for h in hits]},
                 audit={"collection": name, "k": k, "count": len(hits), "pii": pii,
                        "query_digest": services.pipeline.digests(tenant, [decision.text])[0].hex()})


def _doc_id(call: Call) -> str:
    # A path parameter, so that ids with '/' (which ingest accepts: "hr/leave-policy") reach their document; it
    # comes with a leading '/', and an id never starts with one.
    return str(call.request.path_params["document_id"]).removeprefix("/")


async def _read_doc(call: Call) -> Reply:
    chunks = await asyncio.to_thread(call.services.collections.store.document, call.principal.tenant, _name(call),
                                     _doc_id(call))
    return Reply({"collection": _name(call), "document_id": _doc_id(call),
                  "chunks": [provenance_json(c) for c in chunks]},
                 audit={"collection": _name(call), "document_id": _doc_id(call), "count": len(chunks)})


async def _drop_doc(call: Call) -> Reply:
    removed = await asyncio.to_thread(call.services.collections.store.delete_document, call.principal.tenant,
                                      _name(call), _doc_id(call))
    if removed == 0:
        from gateway.errors import NotFound

        raise NotFound(f"no document {_doc_id(call)!r} in collection {_name(call)!r}")
    return Reply({"deleted": _doc_id(call), "chunks_removed": removed},
                 audit={"collection": _name(call), "document_id": _doc_id(call), "count": removed})


@post("/v1/collections", status_code=201, summary="Create a collection bound to a model's embedding space")
async def create_collection(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, CREATE, _create)


@get("/v1/collections", summary="List the caller's tenant's collections")
async def list_collections(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, LIST, _list)


@get("/v1/collections/{name:str}", summary="One collection")
async def get_collection(request: Request[Any, Any, Any], services: Services, name: str) -> Response[Any]:
    return await governed(request, services, INFO, _info)


@delete("/v1/collections/{name:str}", status_code=200, summary="Delete a collection, its records and index")
async def delete_collection(request: Request[Any, Any, Any], services: Services, name: str) -> Response[Any]:
    return await governed(request, services, DROP, _drop)


@post("/v1/collections/{name:str}/documents", status_code=200, summary="Ingest documents (per-item outcomes)")
async def ingest_documents(request: Request[Any, Any, Any], services: Services, name: str) -> Response[Any]:
    return await governed(request, services, INGEST, _ingest)


@post("/v1/collections/{name:str}/search", status_code=200, summary="Governed semantic search")
async def search_collection(request: Request[Any, Any, Any], services: Services, name: str) -> Response[Any]:
    return await governed(request, services, SEARCH, _search)


@get("/v1/collections/{name:str}/documents/{document_id:path}", summary="Provenance records of a document")
async def read_document(
    request: Request[Any, Any, Any], services: Services, name: str, document_id: str
) -> Response[Any]:
    return await governed(request, services, READ_DOC, _read_doc)


@delete("/v1/collections/{name:str}/documents/{document_id:path}", status_code=200, summary="Delete a document")
async def delete_document(
    request: Request[Any, Any, Any], services: Services, name: str, document_id: str
) -> Response[Any]:
    return await governed(request, services, DROP_DOC, _drop_doc)


ROUTES = [create_collection, list_collections, get_collection, delete_collection, ingest_documents,
          search_collection, read_document, delete_document]
