"""Signing in and out of the console.

Sign-in posts the auditor's API key once; the key is authenticated and authorized exactly as on the API,
then forgotten: the browser gets only a fresh random session id (a new one on every sign-in, so a planted
cookie cannot be fixed onto a victim), HttpOnly, SameSite=Strict, Secure when served over HTTPS. Both
outcomes are audited; a failed sign-in records the public key id only, never the secret.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response

from gateway.auditing.auditor import RequestContext
from gateway.auth.apikeys import Principal
from gateway.bootstrap import Services
from gateway.errors import Forbidden, RequestError, Unauthenticated
from gateway.http.console import pages
from gateway.http.console.flow import (
    ACT,
    COOKIE,
    EVENT,
    OBJ,
    ConsoleCall,
    View,
    audited,
    context,
    error_view,
    provider_label,
    read_form,
    same_origin,
    sessions_of,
)

MAX_KEY_CHARS = 256
HOME = pages.BASE + "/entries"
CLEAR_COOKIE = f"{COOKIE}=; Max-Age=0; Path={pages.BASE}; HttpOnly; SameSite=Strict"


async def sign_in(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    """Exchange an auditor key for a session cookie, or answer 401/403 with the form again."""
    ctx = context(request)
    authenticated = False
    try:
        if not same_origin(request):
            raise Forbidden("cross-site form submissions are refused")
        presented = (await read_form(request)).get("api_key", "").strip()[:MAX_KEY_CHARS]
        try:
            principal = services.authenticate(presented)
        except Unauthenticated as refusal:
            ctx.key_id = refusal.key_id  # a key that exists; never an unknown id (the caller's text)
            raise
        ctx, authenticated = context(request, principal), True
        services.authorizer.require(principal, OBJ, ACT)
        await services.check_rate(principal)
    except RequestError as exc:
        event, decision = exc.audited_as(EVENT)
        if isinstance(exc, Forbidden) and authenticated:
            view = View(pages.signin_page(f"This key cannot open the audit console: {exc.message}.",
                                          provider_label(services)), status=403)
        else:
            view = error_view(exc, None, provider_label(services))
        # A refused key's reason and, for a key that exists, its tenant (whose auditors then see it), as on the API
        fields = {"code": exc.code, "what": "console.signin", **exc.detail.get("audit", {})}
        return await audited(services, ctx, view, event, decision, fields)
    return await open_session(request, services, ctx, principal)


async def open_session(
    request: Request[Any, Any, Any], services: Services, ctx: RequestContext, principal: Principal,
    view: View | None = None,
) -> Response[Any]:
    """A fresh session for ``principal`` (any earlier one of this browser ends), audited as a sign-in; its cookie
    goes on ``view`` (a 303 to the entries by default). No audit entry, no session."""
    store = sessions_of(request)
    store.delete(request.cookies.get(COOKIE))
    session_id, _ = store.create(principal)
    view = view or View(b"", status=303, headers={"Location": HOME})
    response = await audited(services, ctx, view, EVENT, "allow", {"what": "console.signin"})
    if response.status_code != view.status:  # the sign-in could not be audited: no session either
        store.delete(session_id)
        return response
    response.set_cookie(
        COOKIE, session_id, max_age=int(store.ttl_s), path=pages.BASE, secure=request.url.scheme == "https",
        httponly=True, samesite="strict",
    )
    return response


async def sign_out(call: ConsoleCall) -> View:
    """End the session server-side (the cookie stops working even if kept) and clear it in the browser."""
    sessions_of(call.request).delete(call.request.cookies.get(COOKIE))
    return View(b"", status=303, headers={"Location": pages.BASE, "Set-Cookie": CLEAR_COOKIE},
                audit={"what": "console.signout"})
