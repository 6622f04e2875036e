"""Tenant administration on the running gateway: rotate the tenant's data key, crypto-shred the tenant.

Admins act on their own tenant only (Casbin domain). Platform-wide KEK rotation is ``gateway keys rotate``.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post

from gateway.bootstrap import Services
from gateway.errors import BadRequest
from gateway.http.guard import Call, Guard, Reply, governed

ROTATE = Guard(event="key.rotate", obj="keys", act="rotate")
SHRED = Guard(event="tenant.shred", obj="tenant", act="shred", needs_body=True)


async def _rotate(call: Call) -> Reply:
    version = call.services.envelope.rotate_tenant(call.principal.tenant)
    return Reply({"tenant": call.principal.tenant, "key_version": version}, audit={"key_version": version})


async def _shred(call: Call) -> Reply:
    tenant = call.principal.tenant
    if not isinstance(call.body, dict) or call.body.get("confirm") != tenant:
        raise BadRequest(f"confirm by sending {{\"confirm\": \"{tenant}\"}}: this destroys every key of the tenant",
                         param="confirm")
    forgotten = call.services.shred_tenant(tenant)
    return Reply({"tenant": tenant, "shredded": True, "chunks_forgotten": forgotten}, audit={"count": forgotten})


@post("/v1/admin/keys/rotate", status_code=200, summary="Rotate the caller's tenant data key (admins)")
async def rotate_keys(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, ROTATE, _rotate)


@post("/v1/admin/tenant/shred", status_code=200, summary="Crypto-shred the caller's tenant (admins)")
async def shred_tenant(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, SHRED, _shred)


ROUTES = [rotate_keys, shred_tenant]
