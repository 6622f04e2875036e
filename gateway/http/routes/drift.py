"""Drift routes: the series of a collection's drift windows, and a new baseline on demand.

Both resolve the collection in the caller's tenant before the role check, so another tenant's collection is a
404 like everywhere else.
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request, Response, get, post

from gateway.bootstrap import Services
from gateway.errors import BadRequest, Unavailable
from gateway.http.guard import Call, Guard, Reply, governed

SERIES = Guard(event="collection.list", obj="collections", act="read", collection_param="name")
REBASELINE = Guard(event="drift.baseline", obj="collections", act="create", collection_param="name")
_MAX_WINDOWS = 1000


def _monitor(call: Call) -> Any:
    obs = call.services.observability
    if obs is None:
        raise Unavailable("drift monitoring is not enabled on this gateway")
    return obs.drift


async def _series(call: Call) -> Reply:
    name = str(call.request.path_params["name"])
    raw = call.request.query_params.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= _MAX_WINDOWS:
        raise BadRequest(f"'limit' must be an integer from 1 to {_MAX_WINDOWS}", param="limit")
    c = call.collection
    series = _monitor(call).series(c, int(raw))
    return Reply(series, audit={"collection": name, "count": len(series["windows"]), "view": "drift"})


async def _rebaseline(call: Call) -> Reply:
    name = str(call.request.path_params["name"])
    c = call.collection
    baseline = await asyncio.to_thread(_monitor(call).rebaseline, c)  # k-means over the sample: not on the loop
    return Reply({"collection": name, "count": baseline.count, "clusters": int(baseline.centroids.shape[0])},
                 status=201, audit={"collection": name, "count": baseline.count, "reason": "on_demand",
                                    "model": {"name": c.model, "version": c.model_version}})


@get("/v1/collections/{name:str}/drift", summary="Drift series of a collection (numbers only)")
async def drift_series(request: Request[Any, Any, Any], services: Services, name: str) -> Response[Any]:
    return await governed(request, services, SERIES, _series)


@post("/v1/collections/{name:str}/drift/baseline", status_code=201,
      summary="Fix a new drift baseline from the most recent vectors")
async def drift_rebaseline(request: Request[Any, Any, Any], services: Services, name: str) -> Response[Any]:
    return await governed(request, services, REBASELINE, _rebaseline)


ROUTES = [drift_series, drift_rebaseline]
