"""``GET /v1/privacy/ledger``: the caller's tenant's privacy spend, worst-case and radius views (admins, auditors)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from gateway.bootstrap import Services
from gateway.http.guard import Call, Guard, Reply, governed
from gateway.pipeline.ledger import read_ledger

LEDGER = Guard(event="privacy.ledger.read", obj="privacy", act="read")


async def _ledger(call: Call) -> Reply:
    services = call.services
    result = await read_ledger(call.principal, ledger=services.ledger, policy=services.policy,
                               transform_version=services.pipeline.transform.version)
    return Reply(result.body, audit=result.audit)


@get("/v1/privacy/ledger", summary="Privacy spend of the caller's tenant (RDP accounting via opacus)")
async def ledger(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, LEDGER, _ledger)


ROUTES = [ledger]
