"""``GET /v1/usage``: the caller's tenant's tokens and requests per key, model and day (admins and auditors)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from gateway.bootstrap import Services
from gateway.errors import Unavailable
from gateway.http.guard import Call, Guard, Reply, governed
from gateway.pipeline.usage import read_usage

USAGE = Guard(event="usage.read", obj="usage", act="read")


async def _usage(call: Call) -> Reply:
    services = call.services
    if services.usage is None:
        raise Unavailable("usage is not recorded by this gateway")
    params = call.request.query_params
    result = await read_usage(call.principal, params.get("since"), params.get("until"), usage=services.usage,
                              remote=services.settings.uses_postgres)
    return Reply(result.body, audit=result.audit)


@get("/v1/usage", summary="Tokens and requests of the caller's tenant per key, model and day (since/until)")
async def usage(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, USAGE, _usage)


ROUTES = [usage]
