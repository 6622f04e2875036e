"""``GET /v1/privacy/ledger``: the caller's tenant's privacy spend, worst-case and radius views (admins, auditors)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from gateway.bootstrap import Services
from gateway.http.guard import Call, Guard, Reply, governed

LEDGER = Guard(event="privacy.ledger.read", obj="privacy", act="read")


async def _ledger(call: Call) -> Reply:
    services = call.services
    view = services.ledger.view(call.principal.tenant).as_dict()
    scope = services.scope(call.principal.tenant)
    view["budget"] = {"epsilon": scope.privacy_budget_epsilon, "on_exceed": scope.budget_action}
    view["transform"] = services.pipeline.transform.version
    return Reply(view, audit={"count": view["total"]["releases"]})


@get("/v1/privacy/ledger", summary="Privacy spend of the caller's tenant (RDP accounting via opacus)")
async def ledger(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, LEDGER, _ledger)


ROUTES = [ledger]
