"""Audit routes: checkpoints, entries and proofs for auditors; a consumer may prove its own receipts.

Reading the log is itself audited (``audit.read``). A tenant's auditor (or admin) reads its own tenant's
entries and the platform-wide ones (``audit.report_scope``); another tenant's entry comes back as its leaf
hash only, enough to recompute the root, never its content. A ``platform-auditor`` reads every entry.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from audit.report_scope import TenantScope
from gateway.auditing.queries import InclusionRequest
from gateway.bootstrap import Services
from gateway.errors import BadRequest
from gateway.http.audit_scope import scope_of
from gateway.http.guard import Call, Guard, Reply, governed

MAX_DIGITS = 15  # an index or size far beyond any log, still exact in canonical JSON
AUDITOR = Guard(event="audit.read", obj="audit", act="read")
RECEIPTS = Guard(event="audit.read", obj="receipts", act="read")
TEXT = "text/plain"  # Litestar appends "; charset=utf-8" (named here too, it came twice)


def _int_param(call: Call, name: str) -> int | None:
    """An optional whole-number query parameter (None when absent: the use case's default applies)."""
    raw = call.request.query_params.get(name)
    if raw is None:
        return None
    # ASCII digits only: int() would also take '²'-free Unicode digits, '1_000', ' 7' and a sign.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= MAX_DIGITS):
        raise BadRequest(f"query parameter '{name}' must be a whole number of 1 to {MAX_DIGITS} digits 0-9",
                         param=name)
    return int(raw)


def _required(call: Call, name: str) -> int:
    value = _int_param(call, name)
    if value is None:
        raise BadRequest(f"query parameter '{name}' is required", param=name)
    return value


def _scope(call: Call) -> TenantScope:
    return scope_of(call.services.authorizer, call.principal)


async def _checkpoint(call: Call) -> Reply:
    result = await call.services.audit_queries.checkpoint()
    return Reply(result.content.encode("utf-8"), media_type=TEXT, audit=result.audit)


async def _entries(call: Call) -> Reply:
    start, end = _int_param(call, "start"), _int_param(call, "end")
    result = await call.services.audit_queries.entries(_scope(call), start, end)
    return Reply(result.content, audit=result.audit)


async def _inclusion(call: Call) -> Reply:
    index, tree_size = _required(call, "index"), _int_param(call, "tree_size")
    auditor = call.services.authorizer.allowed(call.principal, "audit", "read")
    request = InclusionRequest(index, tree_size, _scope(call), auditor, call.principal.tenant)
    result = await call.services.audit_queries.inclusion(request)
    return Reply(result.content, audit=result.audit)


async def _consistency(call: Call) -> Reply:
    first, second = _required(call, "first"), _int_param(call, "second")
    result = await call.services.audit_queries.consistency(first, second)
    return Reply(result.content, audit=result.audit)


async def _policy_text(call: Call) -> Reply:
    result = await call.services.audit_queries.policy_text(_scope(call), str(call.request.path_params["version"]))
    return Reply(result.content, media_type=TEXT, audit=result.audit)


@get("/v1/audit/checkpoint", summary="The latest signed checkpoint (signed note, text/plain)")
async def checkpoint(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, RECEIPTS, _checkpoint)


@get("/v1/audit/entries", summary="Audit entries [start, end) as base64 leaf bytes (auditors)")
async def entries(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, AUDITOR, _entries)


@get("/v1/audit/proofs/inclusion", summary="Inclusion proof of one entry (auditors, or a consumer's own receipt)")
async def inclusion(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, RECEIPTS, _inclusion)


@get("/v1/audit/proofs/consistency", summary="Consistency proof between two tree sizes")
async def consistency(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, RECEIPTS, _consistency)


@get("/v1/audit/policies/{version:str}", summary="The archived text of a policy version (platform auditors)")
async def policy_text(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, AUDITOR, _policy_text)
