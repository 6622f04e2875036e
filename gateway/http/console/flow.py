"""The console's one guarded path: session, key still valid, Casbin, rate limit, audit, HTML errors.

It mirrors ``gateway.http.guard`` for a browser: the principal comes from a server-side session rather
than a bearer header, errors render as pages rather than problem details, and every outcome (sign-ins,
page views, downloads, denials) writes one audit entry before the response leaves, whose index goes back
in ``X-Gateway-Audit-Index``. State-changing requests (POST) must come from the console's own origin and,
once signed in, carry the session's CSRF token.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from litestar import Request, Response

from gateway.auditing.auditor import RequestContext, route_of
from gateway.auth.apikeys import Principal, key_status
from gateway.bootstrap import Services
from gateway.errors import BadRequest, Forbidden, RequestError, Unauthenticated, Unavailable
from gateway.http.console import pages
from gateway.http.console.sessions import Session, SessionStore, csrf_matches
from gateway.http.errors import retry_after
from gateway.http.params import refuse_repeated

log = logging.getLogger(__name__)

COOKIE = "gw_console"
STATE_KEY = "console_sessions"
OBJ, ACT = "console", "read"
EVENT = "audit.read"


@dataclass
class ConsoleCall:
    session: Session
    services: Services
    request: Request[Any, Any, Any]
    form: dict[str, str] = field(default_factory=dict)


@dataclass
class View:
    """What a console handler returns: a page (or download) and what its audit entry should say."""

    content: str | bytes
    status: int = 200
    media_type: str = "text/html"  # Litestar appends "; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    audit: dict[str, Any] = field(default_factory=dict)


def sessions_of(request: Request[Any, Any, Any]) -> SessionStore:
    """The app's session store, made on first use (tests may put one with a fake clock there first)."""
    store = request.app.state.get(STATE_KEY)
    if not isinstance(store, SessionStore):
        store = SessionStore()
        request.app.state[STATE_KEY] = store
    return store


def security_headers(csp: str = pages.CSP) -> dict[str, str]:
    # Referrer-Policy "same-origin", not "no-referrer": under the latter browsers send "Origin: null" on
    # same-origin form posts, which the origin check must then refuse.
    return {
        "Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin", "Cache-Control": "no-store",
    }


def same_origin(request: Request[Any, Any, Any]) -> bool:
    """Refuse cross-site form posts (login CSRF included), judged by headers a page cannot forge.

    Browsers send ``Origin`` on every form POST and ``Sec-Fetch-Site`` on most; a request with neither is
    not from a browser, and CSRF is an attack through a browser.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    netloc = urlsplit(origin).netloc
    return bool(netloc) and netloc == request.headers.get("host", "")


async def read_form(request: Request[Any, Any, Any]) -> dict[str, str]:
    try:
        form = await request.form()
    except Exception:
        raise BadRequest("could not read the form") from None
    names = [str(k) for k, _ in form.multi_items()]
    if len(set(names)) != len(names):  # two keys (or csrf tokens) in one form: a proxy could log one, we read another
        raise BadRequest("a form field is given more than once; send each once")
    return {str(k): v for k, v in form.items() if isinstance(v, str)}


def principal_still_valid(services: Services, principal: Principal) -> bool:
    """A key revoked or expired after sign-in ends its sessions at the next request. A session signed in through
    the identity provider lasts its own time (the provider's roles are read again at the next sign-in)."""
    if principal.method == "oidc":
        return True
    record = services.apikeys.find(principal.key_id)
    return record is not None and key_status(record, datetime.now(UTC)) == "active"


def context(request: Request[Any, Any, Any], principal: Principal | None = None) -> RequestContext:
    ctx = RequestContext(request_id=uuid.uuid4().hex, route=route_of(request.method, request.scope))
    if principal is not None:
        ctx.tenant, ctx.subject, ctx.key_id, ctx.role = (
            principal.tenant, principal.subject, principal.key_id, principal.role,
        )
        ctx.auth = None if principal.method == "api_key" else principal.method
    return ctx


def respond(view: View, ctx: RequestContext) -> Response[Any]:
    headers = {**security_headers(), **view.headers, "X-Request-Id": ctx.request_id}
    if ctx.audit_index is not None:
        headers["X-Gateway-Audit-Index"] = str(ctx.audit_index)
    content = view.content.encode("utf-8") if isinstance(view.content, str) else view.content
    return Response(content, status_code=view.status, media_type=view.media_type, headers=headers)


def provider_label(services: Services) -> str | None:
    """The identity provider the sign-in page offers, or None (API keys only)."""
    return services.console_login.label if services.console_login is not None else None


def error_view(exc: RequestError, session: Session | None, provider: str | None = None) -> View:
    titles = {401: "Signed out", 403: "Forbidden", 429: "Too many requests"}
    if isinstance(exc, Unauthenticated):
        return View(pages.signin_page(exc.message, provider), status=exc.status)
    principal, csrf = (session.principal, session.csrf) if session else (None, None)
    title = titles.get(exc.status, "Bad request" if exc.status < 500 else "Unavailable")
    view = View(pages.error_page(title, exc.message, principal, csrf), status=exc.status)
    if exc.retry_after is not None:
        view.headers["Retry-After"] = retry_after(exc.retry_after)
    return view


async def audited(
    services: Services, ctx: RequestContext, view: View, event: str, decision: str, fields: dict[str, Any]
) -> Response[Any]:
    """Record the entry, then answer; if the log cannot be written the console fails closed too."""
    try:
        await services.auditor.record(event, ctx, decision, via="console", status=view.status, **fields)
    except RequestError as exc:
        return respond(View(pages.error_page("Unavailable", exc.message), status=exc.status), ctx)
    return respond(view, ctx)


def session_cookies(request: Request[Any, Any, Any]) -> int:
    """How many session cookies the request carries, over every Cookie header (a browser sends two of one name when
    a sibling host set a second one, cookie tossing; the gateway read the last)."""
    return sum(1 for header in request.headers.getall("cookie", []) for part in header.split(";")
               if part.partition("=")[0].strip() == COOKIE)


async def console_guarded(
    request: Request[Any, Any, Any],
    services: Services,
    handler: Callable[[ConsoleCall], Awaitable[View]],
) -> Response[Any]:
    """Run ``handler`` for a signed-in auditor; anything else is refused, rendered and audited."""
    store = sessions_of(request)
    cookie = request.cookies.get(COOKIE)
    several = session_cookies(request) > 1
    session = None if several else store.get(cookie)
    ctx = context(request, session.principal if session else None)
    try:
        if several:  # as for the API's headers: a proxy and the gateway could read different sessions
            raise Unauthenticated("Send one console session cookie, not several. Sign in again.",
                                  detail={"audit": {"reason": "several credentials"}})
        if session is None or not principal_still_valid(services, session.principal):
            store.delete(cookie)
            session = None
            raise Unauthenticated("Your session has ended. Sign in again.")
        services.authorizer.require(session.principal, OBJ, ACT)
        await services.check_rate(session.principal)
        refuse_repeated(request)
        form: dict[str, str] = {}
        if request.method == "POST":
            if not same_origin(request):
                raise Forbidden("cross-site form submissions are refused")
            form = await read_form(request)
            if not csrf_matches(session, form.get("csrf")):
                raise Forbidden("the form's security token is missing or stale; reload the page")
        view = await handler(ConsoleCall(session, services, request, form))
    except RequestError as exc:
        event, decision = exc.audited_as(EVENT)
        view = error_view(exc, session, provider_label(services))
        return await audited(services, ctx, view, event, decision, {"code": exc.code})
    except Exception:
        log.exception("unhandled error on %s (request %s)", ctx.route, ctx.request_id)
        internal = Unavailable("internal error; nothing was changed")
        return await audited(services, ctx, error_view(internal, session), EVENT, "error", {"code": internal.code})
    return await audited(services, ctx, view, EVENT, "allow", view.audit)
