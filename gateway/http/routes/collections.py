"""Collection routes: create/list/delete collections, ingest documents, search, provenance, delete documents.

Another tenant's collection does not exist for the caller: every route answers 404 for it, before any role check,
so neither existence nor permissions leak across tenants.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from litestar import Request, Response, delete, get, post

from gateway.bootstrap import Services
from gateway.http.guard import Call, Guard, Reply, governed
from gateway.pipeline.collection_admin import CollectionRef, DocumentRef, parse_create
from gateway.pipeline.collections import IngestOutcome
from gateway.pipeline.embed import pii_header
from gateway.pipeline.search import parse_search

CREATE = Guard(event="collection.create", obj="collections", act="create", needs_body=True)
LIST = Guard(event="collection.list", obj="collections", act="read")
INFO = Guard(event="collection.list", obj="collections", act="read", collection_param="name")
DROP = Guard(event="collection.delete", obj="collections", act="delete", collection_param="name")
INGEST = Guard(event="document.ingest", obj="documents", act="write", needs_body=True, collection_param="name")
SEARCH = Guard(event="collection.search", obj="collections", act="search", needs_body=True,
               collection_param="name")
READ_DOC = Guard(event="document.read", obj="documents", act="read", collection_param="name")
DROP_DOC = Guard(event="document.delete", obj="documents", act="delete", collection_param="name")


def _name(call: Call) -> str:
    return str(call.request.path_params["name"])


def _document(call: Call) -> DocumentRef:
    # A path parameter, so that ids with '/' (which ingest accepts: "hr/leave-policy") reach their document; it
    # comes with a leading '/', and an id never starts with one.
    return DocumentRef(_name(call), str(call.request.path_params["document_id"]).removeprefix("/"))


async def _create(call: Call) -> Reply:
    request = parse_create(call.body, call.services.settings.model_name)
    result = await call.services.collection_admin.create(request, call.principal)
    return Reply(result.body, status=201, audit=result.audit)


async def _list(call: Call) -> Reply:
    result = await call.services.collection_admin.list_collections(call.principal)
    return Reply(result.body, audit=result.audit)


async def _info(call: Call) -> Reply:
    result = call.services.collection_admin.describe(call.collection)
    return Reply(result.body, audit=result.audit)


async def _drop(call: Call) -> Reply:
    result = await call.services.collection_admin.delete(CollectionRef(_name(call)), call.principal)
    return Reply(result.body, audit=result.audit)


def _outcome_json(o: IngestOutcome) -> dict[str, Any]:
    out = asdict(o)
    if not o.blocked_types:
        del out["blocked_types"]
    return out


def prefers_async(headers: Sequence[str]) -> bool:
    """Whether ``Prefer`` headers (RFC 7240: comma-separated preferences, each ``token[=value][; params]``) ask for
    ``respond-async``; the token is case-insensitive, and several headers count as one list."""
    return any(pref.split(";")[0].split("=")[0].strip().lower() == "respond-async"
               for header in headers for pref in header.split(","))


async def _ingest(call: Call) -> Reply:
    ingest = call.services.ingest
    request = ingest.parse(call.body, call.collection)  # the same validation and limits, async or not
    if prefers_async(call.request.headers.getall("prefer", [])):
        job = await call.services.ingest_jobs.submit(request, call.principal)
        body = await call.services.ingest_jobs.describe(call.principal.tenant, job.id)
        # No "count": nothing is stored by this request (the reconciler checks entries that store chunks); each
        # document's own entry, written as the job runs, names the job in its request_id.
        return Reply(body, status=202, headers={"Location": f"/v1/jobs/{job.id}",
                                                "Preference-Applied": "respond-async"},
                     audit={"collection": request.collection.name, "job_id": job.id,
                            "documents_queued": len(request.documents)})
    result = await ingest(request, call.principal, call.ctx)
    call.ctx.extra_headers["X-Gateway-PII"] = pii_header(result.pii)
    # The use case recorded the entry itself: its stored chunks cite it (see gateway.pipeline.ingest).
    return Reply({"collection": result.collection, "results": [_outcome_json(o) for o in result.outcomes]},
                 audited=True)


async def _search(call: Call) -> Reply:
    result = await call.services.search(parse_search(call.body, call.collection), call.principal)
    call.ctx.extra_headers["X-Gateway-PII"] = pii_header(result.pii)
    return Reply(result.body, audit=result.audit)


async def _read_doc(call: Call) -> Reply:
    result = await call.services.collection_admin.read_document(_document(call), call.principal)
    return Reply(result.body, audit=result.audit)


async def _drop_doc(call: Call) -> Reply:
    result = await call.services.collection_admin.delete_document(_document(call), call.principal)
    return Reply(result.body, audit=result.audit)


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


@post("/v1/collections/{name:str}/documents", status_code=200,
      summary="Ingest documents (per-item outcomes); with 'Prefer: respond-async', 202 and an ingest job")
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
