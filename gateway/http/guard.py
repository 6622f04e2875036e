"""One path for every guarded route: request id, body limits, authentication, Casbin, audit, error rendering.

A handler receives a ``Call`` (the authenticated principal, the parsed body, the request context) and returns a
``Reply``; whatever happens, allowed or denied, one audit entry is durable before the response leaves, and its
index goes back in ``X-Gateway-Audit-Index``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException

from gateway.auditing.auditor import RequestContext, route_of
from gateway.auth.apikeys import Principal
from gateway.bootstrap import Services
from gateway.errors import BadRequest, BodyTimeout, PayloadTooLarge, RequestError, Timeout, Unauthenticated, Unavailable
from gateway.http.errors import error_response
from gateway.http.params import refuse_repeated
from gateway.observability import tracing
from gateway.observability.logs import request_id_var
from gateway.observability.metrics import parse_pii_header
from gateway.pipeline.batching import CALLER
from gateway.pipeline.collections import FoundCollection
from gateway.pipeline.json_keys import refuse_repeated_keys

log = logging.getLogger(__name__)

_MISSING = object()


@dataclass(frozen=True)
class Guard:
    event: str  # audit event type of this route
    obj: str  # Casbin object
    act: str  # Casbin action
    openai_errors: bool = False
    needs_body: bool = False
    collection_param: str | None = None  # resolved in the caller's tenant before the role check: 404, not 403


@dataclass
class Call:
    principal: Principal
    ctx: RequestContext
    body: Any
    services: Services
    request: Request[Any, Any, Any]
    found: FoundCollection | None = None  # the guard's collection_param, resolved in the caller's tenant

    @property
    def collection(self) -> FoundCollection:
        if self.found is None:
            raise RuntimeError("this route's guard names no collection parameter")
        return self.found


@dataclass
class Reply:
    content: Any  # a JSON-serializable object, or bytes with media_type
    status: int = 200
    media_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    decision: str = "allow"
    audit: dict[str, Any] = field(default_factory=dict)
    audited: bool = False  # the handler already wrote its entry (a write whose records cite their entry)


def bearer_token(request: Request[Any, Any, Any]) -> str | None:
    """The one credential the request presents, or None when it presents none. More than one (two Authorization
    headers, two X-API-Key headers, or both kinds) is refused even when they agree: a proxy, a log and the gateway
    could each read another one, and a request must be one caller's."""
    headers = request.headers
    authorization, api_key = headers.getall("authorization", []), headers.getall("x-api-key", [])
    if len(authorization) + len(api_key) > 1:
        raise Unauthenticated("send one credential: one 'Authorization: Bearer <key>' header or one 'X-API-Key' "
                              "header, not several", detail={"audit": {"reason": "several credentials"}})
    scheme, _, token = (authorization or [""])[0].partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return (api_key or [""])[0] or None


_AT_BYTE = re.compile(r"\(byte (\d+)\)")


def json_error(raw: bytes, exc: Exception) -> str:
    """What is wrong with a body that is not JSON, for its sender: where, and the usual causes by name. Only our
    words and a byte offset, never the body's content (it may hold the PII the gateway screens for)."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return "the request body starts with a byte order mark; send UTF-8 JSON without one"
    if isinstance(exc, msgspec.ValidationError):  # untyped decoding refuses only numbers no machine type holds
        return ("the request body holds a number out of range: JSON numbers here must fit a 64-bit integer or a "
                "double")
    if isinstance(exc, UnicodeDecodeError) or "UTF-8" in str(exc):
        return "the request body is not valid UTF-8"
    found = _AT_BYTE.search(str(exc))
    if found is None:
        return "the request body is not valid JSON (it ends too early)"
    at = int(found.group(1))
    hint = "; NaN and Infinity are not JSON" if raw[at:at + 3] in (b"NaN", b"Inf", b"-In") else ""
    return f"the request body is not valid JSON (at byte {at}{hint})"


async def read_json(request: Request[Any, Any, Any], limit: int, seconds: float = 0.0) -> Any:
    """The body as JSON, within ``limit`` bytes and ``seconds`` (0 or less: no limit of its own)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body of {declared} bytes exceeds the limit of {limit} bytes")
    try:
        async with asyncio.timeout(seconds if seconds > 0 else None):
            raw = await request.body()
    except TimeoutError:
        raise BodyTimeout(f"the request body did not arrive within {seconds:g} s") from None
    except HTTPException as exc:
        if exc.status_code == 413:
            raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes") from None
        raise BadRequest("could not read the request body") from None
    if len(raw) > limit:
        raise PayloadTooLarge(f"request body of {len(raw)} bytes exceeds the limit of {limit} bytes")
    if not raw.strip():
        raise BadRequest("the request body is empty; send a JSON object")
    try:
        decoded = msgspec.json.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
        raise BadRequest(json_error(raw, exc)) from None
    except RecursionError:  # hostile nesting: msgspec gives up at Python's recursion limit
        raise BadRequest("the request body is nested too deeply") from None
    refuse_repeated_keys(raw, decoded)  # {"input": "a", "input": "..."}: a proxy could read the other one
    return decoded


async def governed(
    request: Request[Any, Any, Any],
    services: Services,
    guard: Guard,
    handler: Callable[[Call], Awaitable[Reply]],
) -> Response[Any]:
    """Run ``handler`` under the guard; the outcome is counted in the metrics by route template and decision."""
    started = time.perf_counter()
    ctx = RequestContext(request_id=uuid.uuid4().hex, route=route_of(request.method, request.scope))
    token = request_id_var.set(ctx.request_id)
    decision: list[str] = []  # filled with the audited decision
    try:
        response = await _governed(request, services, guard, handler, ctx, decision)
    finally:
        request_id_var.reset(token)
    obs = services.observability
    if obs is not None:
        template = ctx.route
        outcome = decision[-1] if decision else "error"
        obs.metrics.observe_request(template, outcome, int(response.status_code or 0), time.perf_counter() - started)
        obs.metrics.observe_pii(parse_pii_header(ctx.extra_headers.get("X-Gateway-PII", "")))
    return response


async def _governed(
    request: Request[Any, Any, Any],
    services: Services,
    guard: Guard,
    handler: Callable[[Call], Awaitable[Reply]],
    ctx: RequestContext,
    decision: list[str],
) -> Response[Any]:
    try:
        presented = bearer_token(request)
        if presented is None:  # not a secret: saying so tells the caller nothing about any key
            if request.headers.get("authorization", "").strip():  # e.g. the key alone, without "Bearer "
                raise Unauthenticated("the Authorization header must read 'Bearer <key>' (or send 'X-API-Key: <key>')")
            raise Unauthenticated("no API key was sent: pass it as 'Authorization: Bearer <key>' (or 'X-API-Key')")
        with tracing.span("authenticate"):
            principal = await services.authenticate_request(presented)
        tracing.set_attributes({"gateway.tenant": principal.tenant, "gateway.request_id": ctx.request_id})
        ctx.tenant, ctx.subject, ctx.key_id, ctx.role = (
            principal.tenant, principal.subject, principal.key_id, principal.role,
        )
        ctx.auth = None if principal.method == "api_key" else principal.method  # an entry without it: an API key
        found = None
        if guard.collection_param is not None:
            found = await services.find_collection(principal.tenant, str(request.path_params[guard.collection_param]))
        with tracing.span("authorize"):
            services.authorizer.require(principal, guard.obj, guard.act)
        await services.check_rate(principal)
        caller = CALLER.set(principal.key_id or principal.subject)  # its own queue in the stages' batchers
        try:
            with services.concurrency.slot(principal.key_id, services.settings.max_concurrent_per_key):
                # The request's time limit covers reading its body too: a slow body must not hold the slot.
                reply = await _in_time(_read_and_handle(request, services, guard, handler, principal, ctx, found),
                                       services.settings.request_timeout_s)
        finally:
            CALLER.reset(caller)
    except RequestError as exc:
        if isinstance(exc, Unauthenticated):
            ctx.key_id = exc.key_id  # a key that exists; never an unknown id (the caller's text)
        return await _deny(ctx, guard, exc, services, decision)
    except Exception:
        log.exception("unhandled error on %s (request %s)", ctx.route, ctx.request_id)
        internal = Unavailable("internal error; the request was not carried out")
        return await _deny(ctx, guard, internal, services, decision)
    decision.append(reply.decision)
    if not reply.audited:
        try:
            await services.auditor.record(guard.event, ctx, reply.decision, status=reply.status, **reply.audit)
        except RequestError as exc:
            return error_response(exc, ctx.request_id, guard.openai_errors)
    headers = {**reply.headers, **ctx.extra_headers, **audit_headers(ctx)}
    headers["X-Request-Id"] = ctx.request_id
    content = reply.content if isinstance(reply.content, bytes) else msgspec.json.encode(reply.content)
    return Response(content, status_code=reply.status, media_type=reply.media_type, headers=headers)


async def _read_and_handle(
    request: Request[Any, Any, Any], services: Services, guard: Guard, handler: Callable[[Call], Awaitable[Reply]],
    principal: Principal, ctx: RequestContext, found: FoundCollection | None,
) -> Reply:
    refuse_repeated(request)
    settings = services.settings
    body = await read_json(request, settings.max_body_bytes, settings.request_body_timeout_s) if guard.needs_body \
        else None
    return await handler(Call(principal, ctx, body, services, request, found))


def audit_headers(ctx: RequestContext) -> dict[str, str]:
    """Where the response's audit record is: its index, or the window's aggregate entry (a flood of failures)."""
    if ctx.audit_index is None:
        return {"X-Gateway-Audit": "aggregated"}
    return {"X-Gateway-Audit-Index": str(ctx.audit_index)}


async def _in_time(work: Awaitable[Reply], seconds: float) -> Reply:
    """The request's time limit (``request_timeout_s``); 0 or less: none."""
    try:
        async with asyncio.timeout(seconds if seconds > 0 else None):
            return await work
    except TimeoutError:  # most often a busy gateway: a client may retry, as after a 503
        raise Timeout(f"the request took longer than its limit of {seconds:g} s; retry shortly",
                      retry_after=1.0) from None


async def _deny(ctx: RequestContext, guard: Guard, exc: RequestError, services: Services,
                outcome: list[str]) -> Response[Any]:
    event, decision = exc.audited_as(guard.event)
    outcome.append(decision)
    ctx.extra_headers.update(exc.headers)  # a refusal's own headers count in the metrics too (X-Gateway-PII)
    fields: dict[str, Any] = {"status": exc.status, "code": exc.code}
    fields.update(exc.detail.get("audit", {}))
    try:
        await services.auditor.record(event, ctx, decision, **fields)
    except RequestError as audit_exc:
        return error_response(audit_exc, ctx.request_id, guard.openai_errors)
    headers = {**ctx.extra_headers, **audit_headers(ctx)}
    return error_response(exc, ctx.request_id, guard.openai_errors, headers)
