"""OpenAI's Batch API for embeddings: create, retrieve, cancel and list batches (``gateway.pipeline.batches``).

The lines run in the background as a durable job of the batch's creator; another tenant's batch is 404."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from gateway.bootstrap import Services
from gateway.http.guard import Call, Guard, Reply, governed
from gateway.http.routes.files import page

CREATE = Guard(event="batch.create", obj="batches", act="create", openai_errors=True, needs_body=True)
READ = Guard(event="batch.read", obj="batches", act="read", openai_errors=True)
CANCEL = Guard(event="batch.cancel", obj="batches", act="cancel", openai_errors=True)


def _batch_id(call: Call) -> str:
    return str(call.request.path_params["batch_id"])


async def _create(call: Call) -> Reply:
    batch, audit = await call.services.batches.create(call.principal, call.body)
    return Reply(batch, audit=audit)


async def _retrieve(call: Call) -> Reply:
    batch = await call.services.batches.retrieve(call.principal, _batch_id(call))
    return Reply(batch, audit={"batch_id": batch["id"], "what": "batch"})


async def _cancel(call: Call) -> Reply:
    batch = await call.services.batches.cancel(call.principal, _batch_id(call))
    return Reply(batch, audit={"batch_id": batch["id"], "status_text": batch["status"]})


async def _list(call: Call) -> Reply:
    limit, after = page(call, 20, 100)
    body = await call.services.batches.listing(call.principal, limit, after)
    return Reply(body, audit={"count": len(body["data"]), "what": "list"})


@post("/v1/batches", status_code=200, summary="Create a batch of embeddings requests (OpenAI-compatible)")
async def create_batch(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, CREATE, _create)


@get("/v1/batches", summary="List the tenant's batches")
async def list_batches(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, READ, _list)


@get("/v1/batches/{batch_id:str}", summary="Retrieve a batch")
async def get_batch(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, READ, _retrieve)


@post("/v1/batches/{batch_id:str}/cancel", status_code=200, summary="Cancel a batch")
async def cancel_batch(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, CANCEL, _cancel)


ROUTES = [create_batch, list_batches, get_batch, cancel_batch]
