"""Tenant administration on the running gateway: rotate the tenant's data key, crypto-shred the tenant.

The handlers parse and answer; the work is ``gateway.pipeline.admin``'s.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post

from gateway.bootstrap import Services
from gateway.http.guard import Call, Guard, Reply, governed
from gateway.pipeline import admin as use_cases

ROTATE = Guard(event="key.rotate", obj="keys", act="rotate")
SHRED = Guard(event="tenant.shred", obj="tenant", act="shred", needs_body=True)


async def _rotate(call: Call) -> Reply:
    result = await use_cases.rotate_key(call.principal, envelope=call.services.envelope,
                                        remote=call.services.settings.uses_postgres)
    return Reply(result.body, audit=result.audit)


async def _shred(call: Call) -> Reply:
    req = use_cases.ShredRequest(call.body.get("confirm") if isinstance(call.body, dict) else None)
    services = call.services
    result = await use_cases.shred_tenant(req, call.principal, store=services.collections.store,
                                          ledger=services.ledger, remote=services.settings.uses_postgres,
                                          background=services.forget_background)
    return Reply(result.body, audit=result.audit)


@post("/v1/admin/keys/rotate", status_code=200, summary="Rotate the caller's tenant data key (admins)")
async def rotate_keys(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, ROTATE, _rotate)


@post("/v1/admin/tenant/shred", status_code=200, summary="Crypto-shred the caller's tenant (admins)")
async def shred_tenant(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, SHRED, _shred)


ROUTES = [rotate_keys, shred_tenant]
