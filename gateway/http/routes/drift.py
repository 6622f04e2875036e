"""Drift routes: the series of a collection's drift windows, and a new baseline on demand.

Both resolve the collection in the caller's tenant before the role check, so another tenant's collection is a
404 like everywhere else. The work is ``gateway.pipeline.drift``'s.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from gateway.bootstrap import Services
from gateway.errors import BadRequest
from gateway.http.guard import Call, Guard, Reply, governed
from gateway.pipeline.drift import drift_series as series_of
from gateway.pipeline.drift import rebaseline

SERIES = Guard(event="collection.list", obj="collections", act="read", collection_param="name")
REBASELINE = Guard(event="drift.baseline", obj="collections", act="create", collection_param="name")
_MAX_WINDOWS = 1000


async def _series(call: Call) -> Reply:
    raw = call.request.query_params.get("limit", "100")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= _MAX_WINDOWS:  # int() fails on '²'
        raise BadRequest(f"'limit' must be an integer from 1 to {_MAX_WINDOWS}", param="limit")
    result = await series_of(call.collection, int(raw), observability=call.services.observability)
    return Reply(result.body, audit=result.audit)


async def _rebaseline(call: Call) -> Reply:
    result = await rebaseline(call.collection, observability=call.services.observability)
    return Reply(result.body, status=201, audit=result.audit)


@get("/v1/collections/{name:str}/drift", summary="Drift series of a collection (numbers only)")
async def drift_series(request: Request[Any, Any, Any], services: Services, name: str) -> Response[Any]:
    return await governed(request, services, SERIES, _series)


@post("/v1/collections/{name:str}/drift/baseline", status_code=201,
      summary="Fix a new drift baseline from the most recent vectors")
async def drift_rebaseline(request: Request[Any, Any, Any], services: Services, name: str) -> Response[Any]:
    return await governed(request, services, REBASELINE, _rebaseline)


ROUTES = [drift_series, drift_rebaseline]
