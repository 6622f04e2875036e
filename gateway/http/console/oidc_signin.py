"""Signing in to the console through the identity provider (authorization code flow with PKCE).

``start`` sends the browser to the provider with a fresh ``state``, ``nonce`` and S256 code challenge, bound to
this browser by a short-lived cookie (``gw_console_login``: a random id, HttpOnly, ``SameSite=Lax`` so that it
comes back on the provider's top-level redirect, scoped to ``/console/oidc``). ``callback`` completes the sign-in
(``gateway.auth.console_login``): the cookie's sign-in is taken once, the code exchanged, the ID token validated
and mapped to a principal as a bearer token is; the principal must be allowed ``console read``. Success opens the
same session as an API key's sign-in; every refusal renders the sign-in page with a plain message and is audited
as ``auth.failure`` with its ``reason``, never the code, the token or a claim's value.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response

from gateway.auth.console_login import LOGIN_TTL_S, MAX_PARAM_CHARS, NotAnAuditor, SignInRefused
from gateway.bootstrap import Services
from gateway.errors import NotFound, RateLimited, RequestError
from gateway.http.console import pages
from gateway.http.console.flow import (
    ACT,
    EVENT,
    OBJ,
    View,
    audited,
    context,
    error_view,
    provider_label,
    security_headers,
)
from gateway.http.console.signin import HOME, open_session
from gateway.http.params import refuse_repeated

LOGIN_COOKIE = "gw_console_login"
LOGIN_PATH = pages.BASE + "/oidc"
CALLBACK = LOGIN_PATH + "/callback"
CALLBACK_PARAMS = ("state", "code", "error")


def _not_configured() -> Response[Any]:
    body = pages.error_page("Not found", "Signing in through an identity provider is not configured here.")
    return Response(body, status_code=404, media_type="text/html", headers=security_headers())


def redirect_uri(request: Request[Any, Any, Any], configured: str) -> str:
    """The callback URL the provider sends the browser back to: the setting, or this request's own origin (the
    provider accepts only the URIs registered with it, so a forged ``Host`` only makes the sign-in fail)."""
    return configured or f"{request.url.scheme}://{request.url.netloc}{CALLBACK}"


async def start(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    """Begin a sign-in at the provider. Nothing of the log is shown, so this step is not audited; its outcome is,
    and so is a client address refused for beginning too many (``rate.limited``)."""
    login = services.console_login
    if login is None:
        return _not_configured()
    try:
        cookie, url = await login.begin_off_loop(redirect_uri(request, login.redirect_uri),
                                                 request.client.host if request.client else "")
    except (RateLimited, SignInRefused) as exc:  # too many starts; the provider not read yet (provider_unavailable)
        event, decision = exc.audited_as(EVENT)
        ctx = context(request)
        if isinstance(exc, SignInRefused):
            ctx.auth = "oidc"
        return await audited(services, ctx, error_view(exc, None, provider_label(services)), event, decision,
                             {"code": exc.code, "what": "console.signin", **exc.detail.get("audit", {})})
    response = Response(b"", status_code=303, headers={**security_headers(), "Location": url})
    response.set_cookie(LOGIN_COOKIE, cookie, max_age=int(LOGIN_TTL_S), path=LOGIN_PATH, httponly=True,
                        secure=request.url.scheme == "https", samesite="lax")
    return response


def _signed_in_page() -> View:
    """200 with a same-origin refresh to the entries, not a 303: the browser arrived here from the provider's site,
    and a redirect would carry on that cross-site navigation, on which the Strict session cookie is not sent."""
    body = (f"<p>Signed in. <a href='{HOME}'>Continue to the entries</a>.</p>"
            f"<meta http-equiv='refresh' content='0;url={HOME}'>")
    return View(pages.layout("Signed in", body))


async def callback(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    """Complete a sign-in the provider sent back: a session, or the sign-in page with why not."""
    if services.console_login is None:
        return _not_configured()
    ctx = context(request)
    ctx.auth = "oidc"
    params = {k: v[:MAX_PARAM_CHARS + 1] for k in CALLBACK_PARAMS if (v := request.query_params.get(k)) is not None}
    try:
        refuse_repeated(request)  # two 'code's or 'state's: the provider and the gateway could read different ones
        try:
            principal = await services.complete_console_sign_in(request.cookies.get(LOGIN_COOKIE), params)
        except NotFound:
            return _not_configured()
        ctx = context(request, principal)
        if not services.authorizer.allowed(principal, OBJ, ACT):
            raise NotAnAuditor()
        await services.check_rate(principal)
    except RequestError as exc:
        event, decision = exc.audited_as(EVENT)
        fields = {"code": exc.code, "what": "console.signin", **exc.detail.get("audit", {})}
        response = await audited(services, ctx, error_view(exc, None, provider_label(services)), event, decision,
                                 fields)
    else:
        response = await open_session(request, services, ctx, principal, _signed_in_page())
    response.delete_cookie(LOGIN_COOKIE, path=LOGIN_PATH)  # taken already: it could not be used again anyway
    return response
