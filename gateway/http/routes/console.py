"""The auditor console at ``/console``: thin handlers over ``gateway.http.console``.

Every page but the sign-in form goes through ``console_guarded`` (session, Casbin ``console read``, audit
``audit.read``). The report is built from the checkpointed log and verified with the audit public key. A
tenant's auditor sees its tenant's rows, entries and report only (``gateway.http.audit_scope``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from litestar import Request, Response, Router, get, post

from audit.report_csv import render_csv
from audit.report_frameworks import FRAMEWORKS
from audit.report_html import render_html
from audit.report_scope import ReportScope, TenantScope
from gateway.errors import BadRequest, Forbidden, NotFound
from gateway.http.audit_scope import scope_of
from gateway.http.console import evidence, pages, query
from gateway.http.console.flow import COOKIE, ConsoleCall, View, console_guarded, security_headers, sessions_of
from gateway.http.console.projection_view import collections_view, projection_view
from gateway.http.console.signin import HOME, sign_in, sign_out
from gateway.http.routes.audit import WITNESS_WAIT_S
from gateway.service import Services

REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


def _scope(call: ConsoleCall) -> TenantScope:
    return scope_of(call.services.authorizer, call.session.principal)


async def _entries(call: ConsoleCall) -> View:
    params = call.request.query_params
    filters = query.parse_filters(params)
    before = query.parse_before(params.get("before"))
    scope = _scope(call)
    page = await asyncio.to_thread(query.find_page, call.services.audit_log, filters, before, scope=scope)
    html = pages.entries_page(page, filters, call.session.principal, call.session.csrf, scope.label)
    cursor = None if before is None else min(before, page.tree_size)
    return View(html, audit={"what": "console.entries", "returned": len(page.rows), "before": cursor,
                             "filters": filters.as_audit(_digest(call)) or None, "scope": scope.tenant or "*"})


def _digest(call: ConsoleCall) -> Callable[[str], str]:
    """A filter value as the reader's tenant's keyed digest, like every caller-chosen id in an entry."""
    return lambda value: call.services.auditor.digest(call.session.principal.tenant, value)


def _publish(call: ConsoleCall) -> Callable[[str], str] | None:
    """The witnesses' cosignatures added to a checkpoint, as the checkpoint route serves it (None without any)."""
    witnesses = call.services.witnesses
    return None if witnesses is None else lambda note: witnesses.published(note, WITNESS_WAIT_S)


async def _signed(call: ConsoleCall) -> evidence.SignedCheckpoint:
    return await asyncio.to_thread(evidence.latest_checkpoint, call.services.audit_log,
                                   call.services.keys.audit_public_key, _publish(call))


async def _entry(call: ConsoleCall) -> View:
    """The receipt page: what ``gateway-audit prove`` checks, for one entry the session's scope may read."""
    index = int(call.request.path_params["index"])
    signed = await _signed(call)
    ev = await asyncio.to_thread(evidence.inclusion, call.services.audit_log, index, signed)
    if ev is None:
        raise NotFound(f"no entry #{index} in the signed tree of {signed.checkpoint.size} entries")
    if not _scope(call).sees_leaf(ev.leaf):
        raise Forbidden(f"entry #{index} belongs to another tenant; your key reads its own tenant's entries")
    witnesses = call.services.witnesses
    cosigned = evidence.witnessing(signed, [] if witnesses is None else witnesses.keys)
    html = pages.entry_page(ev, query.parse_entry(ev.leaf), signed, cosigned, call.session.principal,
                            call.session.csrf)
    return View(html, audit={"what": "console.inclusion_proof", "index": index, "tree_size": signed.checkpoint.size,
                             "verified": ev.verified, "cosigned_by": len(cosigned["cosigned"])})


async def _checkpoint(call: ConsoleCall) -> View:
    signed = await _signed(call)
    html = pages.checkpoint_page(signed, call.session.principal, call.session.csrf)
    return View(html, audit={"what": "console.checkpoint", "tree_size": signed.checkpoint.size})


REPORT_PARAMS = frozenset({"tenant", "since", "until", "framework"})
REPORT_MEDIA = {"json": "application/json", "html": "text/html; charset=utf-8", "csv": "text/csv; charset=utf-8"}


def _report_scope(call: ConsoleCall) -> tuple[ReportScope, str]:
    """The report's scope and framework from the query; a tenant auditor's scope is its own tenant, always."""
    params = call.request.query_params
    unknown = sorted(set(params) - REPORT_PARAMS)
    if unknown:
        raise BadRequest(f"unknown report option '{unknown[0][:40]}'; known: {', '.join(sorted(REPORT_PARAMS))}",
                         param=unknown[0][:40])
    framework = params.get("framework") or "nist-ai-rmf"
    if framework not in FRAMEWORKS:
        raise BadRequest(f"'framework' must be one of {', '.join(sorted(FRAMEWORKS))}", param="framework")
    own = _scope(call).tenant
    tenant = params.get("tenant") or own
    if own is not None and tenant != own:
        raise Forbidden("your key reports on its own tenant only")
    try:
        return ReportScope.parse(tenant, params.get("since") or None, params.get("until") or None), framework
    except ValueError as exc:
        raise BadRequest(str(exc).replace("--", ""), param="since") from None


def _report_view(fmt: str) -> Any:
    async def build(call: ConsoleCall) -> View:
        scope, framework = _report_scope(call)
        report = await asyncio.to_thread(evidence.report, call.services.audit_log,
                                         call.services.keys.audit_public_key, scope, framework)
        if fmt == "json":
            body = json.dumps(report, indent=2, sort_keys=True) + "\n"
        elif fmt == "csv":
            body = render_csv(report)
        else:
            body = render_html(report)
        headers = {**security_headers(REPORT_CSP),
                   "Content-Disposition": f'attachment; filename="{framework}-report.{fmt}"'}
        return View(body, media_type=REPORT_MEDIA[fmt], headers=headers,
                    audit={"what": f"console.report.{fmt}", "entries": report["summary"]["entries"],
                           "verification": report["verification"]["status"], "framework": framework,
                           "scope": scope.tenant or "*"})

    return build


@get("/", summary="Auditor console: sign-in form, or the entries when signed in", include_in_schema=False)
async def home(request: Request[Any, Any, Any]) -> Response[Any]:
    # The form itself shows nothing of the log, so serving it is not audited; everything behind it is.
    if sessions_of(request).get(request.cookies.get(COOKIE)) is not None:
        return Response(b"", status_code=303, headers={"Location": HOME, **security_headers()})
    return Response(pages.signin_page(), media_type="text/html; charset=utf-8", headers=security_headers())


@post("/signin", summary="Sign in with an auditor key", include_in_schema=False, status_code=303)
async def signin(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await sign_in(request, services)


@post("/signout", summary="Sign out", include_in_schema=False, status_code=303)
async def signout(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await console_guarded(request, services, sign_out)


@get("/entries", summary="Browse and filter audit entries", include_in_schema=False)
async def entries(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await console_guarded(request, services, _entries)


@get("/entries/{index:int}", summary="One entry's receipt: inclusion, signature and cosignatures verified",
     include_in_schema=False)
async def entry(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await console_guarded(request, services, _entry)


@get("/checkpoint", summary="The latest signed checkpoint", include_in_schema=False)
async def checkpoint(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await console_guarded(request, services, _checkpoint)


@get("/report.html", summary="NIST AI RMF report (HTML)", include_in_schema=False)
async def report_html(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await console_guarded(request, services, _report_view("html"))


@get("/report.json", summary="NIST AI RMF report (JSON)", include_in_schema=False)
async def report_json(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await console_guarded(request, services, _report_view("json"))


@get("/report.csv", summary="Evidence cards (CSV)", include_in_schema=False)
async def report_csv(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await console_guarded(request, services, _report_view("csv"))


@get("/collections", summary="The tenant's collections", include_in_schema=False)
async def collections(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await console_guarded(request, services, collections_view)


_projection = projection_view()


@get("/collections/{name:str}/projection", summary="2-D projection and drift of a collection",
     include_in_schema=False)
async def projection(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await console_guarded(request, services, _projection)


router = Router(
    path=pages.BASE,
    route_handlers=[home, signin, signout, entries, entry, checkpoint, report_html, report_json, report_csv,
                    collections, projection],
)
