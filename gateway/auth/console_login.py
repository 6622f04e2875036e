"""Signing in to the auditor console through the identity provider: the authorization code flow with PKCE.

``begin`` makes a fresh ``state``, ``nonce`` and PKCE code verifier (S256) for one browser, keeps them server-side
under a digest of a random cookie value (the browser holds only that value) and returns the provider's
authorization URL. ``complete`` takes them back exactly once (a replayed callback finds nothing), checks ``state``
in constant time, exchanges the code at the provider's token endpoint with the verifier (a stolen code is useless
without it), and validates the ID token with the API's verifier for the console's client id as audience plus the
``nonce``. The identity then maps to a principal exactly as a bearer token's does (tenant claim, roles or groups
through ``policy.csv``).

Every refusal is a ``SignInRefused`` (or the verifier's ``TokenRefused``) whose ``reason`` is one word; neither the
code, the tokens nor any claim's value is ever part of a message or an audit entry.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gateway.auth.apikeys import Principal
from gateway.auth.discovery import Verifier
from gateway.auth.oidc import FETCH_TIMEOUT_S, MAX_TOKEN_CHARS, Identity, ProviderMetadata
from gateway.errors import ConfigurationError, Unauthenticated
from gateway.limits.rate import RateLimiter

LOGIN_TTL_S = 600.0  # from the sign-in link to the provider's redirect back: ten minutes to type a password
MAX_PENDING = 10_000
MAX_PARAM_CHARS = 2048
# Sign-ins begun per client address and minute: a person needs a few; a script filling the pending table with
# abandoned sign-ins (each holds a state, a nonce and a verifier for LOGIN_TTL_S) is refused past this.
STARTS_PER_MINUTE = 20
REASONS = ("bad_state", "provider_error", "code_rejected", "provider_unavailable", "not_an_auditor")


class SignInRefused(Unauthenticated):
    """A console sign-in through the provider that did not complete; ``reason`` says why, in one word."""

    code = "sign_in_refused"

    def __init__(self, reason: str, message: str) -> None:
        assert reason in REASONS
        super().__init__(message, detail={"audit": {"reason": reason}})
        self.reason = reason


class NotAnAuditor(SignInRefused):
    """Signed in by the provider, but none of the roles it carries may open the console."""

    status = 403

    def __init__(self) -> None:
        super().__init__("not_an_auditor", "Your account was signed in by the identity provider, but none of its "
                                           "roles may open the audit console.")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 ``S256``: BASE64URL(SHA256(verifier)), unpadded."""
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


@dataclass(frozen=True)
class PendingLogin:
    state: str
    nonce: str
    verifier: str
    redirect_uri: str
    expires_at: float


class PendingLogins:
    """Sign-ins under way, in memory, keyed by a digest of the browser's cookie value; each is taken once."""

    def __init__(self, clock: Callable[[], float] = time.time, max_pending: int = MAX_PENDING) -> None:
        self._clock = clock
        self._max = max_pending
        self._lock = threading.Lock()
        self._pending: dict[str, PendingLogin] = {}

    @staticmethod
    def _key(cookie: str) -> str:
        return hashlib.sha256(cookie.encode("utf-8")).hexdigest()

    def begin(self, redirect_uri: str) -> tuple[str, PendingLogin]:
        cookie = secrets.token_urlsafe(32)
        login = PendingLogin(secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48),
                             redirect_uri, self._clock() + LOGIN_TTL_S)
        with self._lock:
            now = self._clock()
            for key in [k for k, p in self._pending.items() if p.expires_at <= now]:
                del self._pending[key]
            if len(self._pending) >= self._max:  # a flood of started sign-ins drops the oldest, never grows forever
                for key, _ in sorted(self._pending.items(), key=lambda kv: kv[1].expires_at)[: self._max // 10 + 1]:
                    del self._pending[key]
            self._pending[self._key(cookie)] = login
        return cookie, login

    def take(self, cookie: str | None) -> PendingLogin | None:
        """The live sign-in of this cookie, removed: a second callback with it finds nothing."""
        if not cookie:
            return None
        with self._lock:
            login = self._pending.pop(self._key(cookie), None)
        return login if login is not None and login.expires_at > self._clock() else None

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)


PostForm = Callable[[str, Mapping[str, str], Mapping[str, str]], tuple[int, bytes]]


def post_form(url: str, data: Mapping[str, str], headers: Mapping[str, str]) -> tuple[int, bytes]:
    """POST a form to ``url`` (https, or http on a loopback address); the status and the body, errors included."""
    parts = urllib.parse.urlsplit(url)
    loopback = parts.hostname in ("127.0.0.1", "::1", "localhost")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ConfigurationError("an OIDC URL must be https (or http on a loopback address)")
    body = urllib.parse.urlencode(data).encode("ascii")
    request = urllib.request.Request(url, data=body, method="POST", headers={  # noqa: S310 (scheme checked)
        "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_S) as response:  # noqa: S310 (scheme checked)
            return int(response.status), bytes(response.read(1024 * 1024))
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read(64 * 1024))


class ConsoleSignIn:
    """The console's client of the provider: builds the authorization URL and completes the callback."""

    def __init__(self, client_id: str, client_secret: str, redirect_uri: str, scopes: str,
                 provider: ProviderMetadata | Callable[[], ProviderMetadata | None], verifier: Verifier,
                 principal_of: Callable[[Identity], Principal], post: PostForm = post_form,
                 clock: Callable[[], float] = time.time, label: str = "") -> None:
        """``provider``: the metadata, or where to ask for it (None while the provider has not answered: each
        sign-in is then refused as ``provider_unavailable``). ``label``: the provider's name until it answers."""
        self._provider = provider if callable(provider) else (lambda: provider)
        self._found = self._provider()  # the last metadata read: what the sign-in page names, without a fetch
        if self._found is not None:
            _check_endpoints(self._found)
        self._label = label
        self.client_id = client_id
        self.redirect_uri = redirect_uri  # "" : derived from each request (see gateway.http.console.oidc_signin)
        self._secret = client_secret
        self._scopes = scopes
        self._verifier = verifier
        self._principal_of = principal_of
        self._post = post
        self.pending = PendingLogins(clock)
        self.starts = RateLimiter(max_keys=MAX_PENDING)  # its own buckets: a flood of addresses resets only these

    @property
    def label(self) -> str:
        """The provider as the sign-in page names it: its issuer's host (the discovery URL's while unread)."""
        found = self._found
        if found is None:
            return self._label
        return urllib.parse.urlsplit(found.issuer).netloc or found.issuer

    def _metadata(self) -> ProviderMetadata:
        """The provider's endpoints; ``provider_unavailable`` while its discovery document cannot be read."""
        found = self._found = self._provider()
        if found is None:
            raise SignInRefused("provider_unavailable", "The identity provider is unavailable: the gateway could "
                                                        "not read its configuration. Try again in a minute.")
        try:
            _check_endpoints(found)
        except ConfigurationError:  # read late, and unusable: the operator's log says so at the read
            raise SignInRefused("provider_unavailable", "The identity provider is unavailable for signing in "
                                                        "here.") from None
        return found

    async def begin_off_loop(self, redirect_uri: str, client: str = "") -> tuple[str, str]:
        """``begin`` on a worker thread: while the provider is unreadable it may fetch the discovery document again
        (up to the fetch's timeout, once per retry interval), which on the loop froze every tenant's requests."""
        return await asyncio.to_thread(self.begin, redirect_uri, client)

    def begin(self, redirect_uri: str, client: str = "") -> tuple[str, str]:
        """A new sign-in: the cookie value to bind it to this browser, and the provider URL to send it to;
        ``RateLimited`` past ``STARTS_PER_MINUTE`` from one client address."""
        self.starts.check(client, STARTS_PER_MINUTE)
        provider = self._metadata()
        cookie, login = self.pending.begin(redirect_uri)
        query = urllib.parse.urlencode({
            "response_type": "code", "client_id": self.client_id, "redirect_uri": redirect_uri,
            "scope": self._scopes, "state": login.state, "nonce": login.nonce,
            "code_challenge": pkce_challenge(login.verifier), "code_challenge_method": "S256",
        })
        separator = "&" if "?" in provider.authorization_endpoint else "?"
        return cookie, f"{provider.authorization_endpoint}{separator}{query}"

    def complete(self, cookie: str | None, params: Mapping[str, str]) -> Principal:
        """The principal of a provider's redirect back (blocking: it calls the token endpoint)."""
        login = self.pending.take(cookie)
        state = params.get("state", "")
        if login is None or not hmac.compare_digest(login.state.encode(), state.encode()):
            raise SignInRefused("bad_state", "This sign-in was not started in this browser, has expired or was "
                                             "already used. Start again.")
        if "error" in params:  # the provider's own refusal (the user pressed Deny, or is not assigned the app)
            raise SignInRefused("provider_error", "The identity provider did not sign you in.")
        code = params.get("code", "")
        if not code or len(code) > MAX_PARAM_CHARS:
            raise SignInRefused("code_rejected", "The identity provider sent no usable authorization code.")
        identity = self._verifier.verify(self._exchange(code, login), nonce=login.nonce)
        return self._principal_of(identity)

    def _exchange(self, code: str, login: PendingLogin) -> str:
        """The ID token for ``code``: the verifier proves this is the client that asked for it (PKCE)."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": login.redirect_uri,
                "code_verifier": login.verifier, "client_id": self.client_id}
        headers: dict[str, str] = {}
        if self._secret:  # a confidential client: client_secret_basic (RFC 6749 2.3.1: each part form-encoded)
            pair = f"{urllib.parse.quote(self.client_id, safe='')}:{urllib.parse.quote(self._secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        try:
            status, body = self._post(self._metadata().token_endpoint, form, headers)
        except (OSError, ConfigurationError):
            raise SignInRefused("provider_unavailable", "The identity provider could not be reached. Try "
                                                        "again.") from None
        if status != 200:  # a code used twice, expired or issued to another client; a wrong verifier
            raise SignInRefused("code_rejected", "The identity provider refused the sign-in's code. Start again.")
        try:
            token = json.loads(body).get("id_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
            raise SignInRefused("code_rejected", "The identity provider returned no ID token.")
        return token


def _check_endpoints(provider: ProviderMetadata) -> None:
    if not provider.authorization_endpoint or not provider.token_endpoint:
        raise ConfigurationError("setting oidc_console_client_id: the provider's discovery document names no "
                                 "authorization_endpoint or token_endpoint")
