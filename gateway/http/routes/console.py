"""The auditor console at ``/console``: thin handlers over ``gateway.http.console``.

Every page but the sign-in form goes through ``console_guarded`` (session, Casbin ``console read``, audit
``audit.read``). The report is built from the checkpointed log and verified with the audit public key. A
tenant's auditor sees its tenant's rows, entries and report only (``gateway.http.audit_scope``).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router, get, post

from audit.report_frameworks import FRAMEWORKS
from audit.report_scope import ReportScope, TenantScope
from gateway.auditing import browse
from gateway.bootstrap import Services
from gateway.errors import BadRequest, Forbidden
from gateway.http.audit_scope import scope_of
from gateway.http.console import oidc_signin, pages
from gateway.http.console.flow import (
    COOKIE,
    ConsoleCall,
    View,
    console_guarded,
    provider_label,
    security_headers,
    sessions_of,
)
from gateway.http.console.projection_view import collections_view, projection_view
from gateway.http.console.signin import HOME, sign_in, sign_out
from gateway.http.params import PUBLIC

REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


def _scope(call: ConsoleCall) -> TenantScope:
    return scope_of(call.services.authorizer, call.session.principal)


async def _entries(call: ConsoleCall) -> View:
    params = call.request.query_params
    filters = browse.parse_filters(params)
    before = browse.parse_before(params.get("before"))
    scope = _scope(call)
    result = await call.services.audit_queries.browse(filters, before, scope, call.session.principal.tenant)
    html = pages.entries_page(result.page, filters, call.session.principal, call.session.csrf, scope.label)
    return View(html, audit=result.audit)


async def _entry(call: ConsoleCall) -> View:
    """The receipt page: what ``gateway-audit prove`` checks, for one entry the session's scope may read."""
    r = await call.services.audit_queries.receipt(int(call.request.path_params["index"]), _scope(call))
    html = pages.entry_page(r.evidence, r.entry, r.signed, r.cosigned, call.session.principal, call.session.csrf)
    return View(html, audit=r.audit)


async def _checkpoint(call: ConsoleCall) -> View:
    result = await call.services.audit_queries.signed_checkpoint()
    return View(pages.checkpoint_page(result.signed, call.session.principal, call.session.csrf), audit=result.audit)


REPORT_PARAMS = frozenset({"tenant", "since", "until", "framework"})
# Litestar appends "; charset=utf-8" to text types itself (named here too, it came twice).
REPORT_MEDIA = {"json": "application/json", "html": "text/html", "csv": "text/csv"}


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
        result = await call.services.audit_queries.report(scope, framework, fmt)
        headers = {**security_headers(REPORT_CSP),
                   "Content-Disposition": f'attachment; filename="{framework}-report.{fmt}"'}
        return View(result.content, media_type=REPORT_MEDIA[fmt], headers=headers, audit=result.audit)

    return build


@get("/", summary="Auditor console: sign-in form, or the entries when signed in", include_in_schema=False,
     opt={PUBLIC: True})
async def home(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    # The form itself shows nothing of the log, so serving it is not audited; everything behind it is.
    if sessions_of(request).get(request.cookies.get(COOKIE)) is not None:
        return Response(b"", status_code=303, headers={"Location": HOME, **security_headers()})
    return Response(pages.signin_page(None, provider_label(services)), media_type="text/html",
                    headers=security_headers())


@post("/signin", summary="Sign in with an auditor key", include_in_schema=False, status_code=303, opt={PUBLIC: True})
async def signin(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await sign_in(request, services)


@get("/oidc/start", summary="Sign in through the identity provider (PKCE)", include_in_schema=False, opt={PUBLIC: True})
async def oidc_start(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await oidc_signin.start(request, services)


@get(oidc_signin.CALLBACK.removeprefix(pages.BASE), summary="The identity provider's redirect back",
     include_in_schema=False)
async def oidc_callback(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await oidc_signin.callback(request, services)


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


@get("/collections/{name:str}/projection", summary="2-D projection and drift of a collection",
     include_in_schema=False)
async def projection(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await console_guarded(request, services, projection_view)


router = Router(
    path=pages.BASE,
    route_handlers=[home, signin, oidc_start, oidc_callback, signout, entries, entry, checkpoint, report_html,
                    report_json, report_csv,
                    collections, projection],
)
