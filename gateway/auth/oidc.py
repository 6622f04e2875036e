"""Bearer JWTs from the company's identity provider (OIDC), validated against the provider's JWKS.

Only asymmetric signatures are accepted (RS256, ES256, EdDSA), and only with a key of the matching type from the
provider's key set: ``alg: none`` and HMAC algorithms are refused before any key is looked at, so a public key can
never be used as an HMAC secret. ``iss`` and ``aud`` must match exactly; ``exp``, ``nbf`` and ``iat`` are checked
with a small leeway. A token whose ``kid`` is not in the cached key set makes the cache fetch the set again, at
most once per ``REFETCH_INTERVAL_S``, so the provider's key rotation needs no restart and a flood of made-up
``kid`` values costs no flood of fetches. A key set at a URL that cannot be reached at start (the provider down, a
network blip) does not stop the gateway: API keys keep serving, tokens are refused as ``provider_unavailable`` and
the set is tried again at most every ``UNREAD_RETRY_S`` until it is read. A refetch runs outside the cache's lock:
tokens of known keys never wait for a slow provider, only those of the unknown ``kid`` wait for its answer.

A refusal is a ``TokenRefused`` whose ``reason`` is one word of ``REASONS``; neither the token nor a claim's value
is ever part of the message (the token is a credential, its claims may be personal data).
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from gateway.auth.apikeys import identifier_in, is_tenant_id, validate_name
from gateway.errors import BadRequest, ConfigurationError, Unauthenticated
from gateway.observability.logs import VettedName

ALGORITHMS = {"RS256": "RSA", "ES256": "EC", "EdDSA": "OKP"}
LEEWAY_S = 60
REFETCH_INTERVAL_S = 30.0
UNREAD_RETRY_S = 5.0  # while no key set has been read since the start
FETCH_TIMEOUT_S = 5.0
MAX_TOKEN_CHARS = 16 * 1024
REASONS = ("expired", "not_yet_valid", "wrong_audience", "wrong_issuer", "bad_signature", "unknown_key",
           "unsupported_algorithm", "malformed", "missing_claim", "invalid_claim", "no_known_role", "wrong_nonce",
           "provider_unavailable")

log = logging.getLogger(__name__)


# PyJWT's errors and the reasons they are audited as, most specific first (ExpiredSignatureError, for one, is an
# InvalidTokenError as well); any other PyJWTError is "malformed".
_REFUSALS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not_yet_valid"),
    (jwt.InvalidAudienceError, "wrong_audience"),
    (jwt.InvalidIssuerError, "wrong_issuer"),
    (jwt.InvalidSignatureError, "bad_signature"),
    (jwt.MissingRequiredClaimError, "missing_claim"),
    (jwt.InvalidAlgorithmError, "unsupported_algorithm"),
)


class TokenRefused(Unauthenticated):
    """A bearer token that is not a valid token of the configured provider; ``reason`` says why, in one word."""

    code = "invalid_token"

    def __init__(self, reason: str, claim: str | None = None, tenant: str | None = None) -> None:
        assert reason in REASONS
        said = reason.replace("_", " ") + (f": {claim}" if claim else "")  # a missing claim's name: configuration
        audit = {"reason": reason} | ({"claim": claim} if claim else {})  # the auth.failure entry names the reason
        if tenant:  # a token the provider signed (expired, or without a known role): its tenant's auditors see it
            audit["tenant"] = tenant
        super().__init__(f"the bearer token was refused ({said})", detail={"audit": audit})
        self.reason = reason


@dataclass(frozen=True)
class Identity:
    """Who a valid token says the caller is: its one tenant, its subject and the roles or groups it carries."""

    tenant: str
    subject: str
    roles: tuple[str, ...]


Fetch = Callable[[str], bytes]


def fetch_url(url: str) -> bytes:
    """GET ``url``: https, or http on a loopback address (a provider run for tests)."""
    parts = urllib.parse.urlsplit(url)
    loopback = parts.hostname in ("127.0.0.1", "::1", "localhost")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ConfigurationError("an OIDC URL must be https (or http on a loopback address)")
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_S) as response:  # noqa: S310 (scheme checked)
        body: bytes = response.read(1024 * 1024)
    return body


class JwksCache:
    """The provider's public keys by ``kid``, from a file or a URL; fetched again for an unknown ``kid``."""

    def __init__(self, source: str, fetch: Fetch = fetch_url, clock: Callable[[], float] = time.monotonic) -> None:
        self._source = source
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, jwt.PyJWK] = {}
        self._keys_by_type: list[jwt.PyJWK] = []
        self._fetched_at = clock()
        self._read_once = False
        self._inflight: threading.Event | None = None  # a refetch under way: the unknown kid's callers wait for it
        try:
            self._store(self._read())
        except (OSError, ValueError, KeyError, TypeError) as exc:
            if not (self._is_url and _transient(exc)):
                where = f" at {self._host}" if self._is_url else ""
                raise ConfigurationError(f"cannot read the OIDC key set{where}: {_why(exc)}") from exc
            log.warning("the identity provider's key set at %s cannot be read (%s): bearer tokens are refused until "
                        "it can; API keys are not affected; tried again at most every %d s", VettedName(self._host),
                        VettedName(_why(exc)), int(UNREAD_RETRY_S))

    @property
    def _is_url(self) -> bool:
        return self._source.startswith(("https://", "http://"))

    @property
    def _host(self) -> str:
        """host:port of the key set's URL, never its path, query or credentials ("file" for a file)."""
        return urllib.parse.urlsplit(self._source).netloc.rpartition("@")[2] if self._is_url else "file"

    @property
    def read_once(self) -> bool:
        """Whether a key set has been read since the start (False: the provider has not answered yet)."""
        return self._read_once

    def _read(self) -> bytes:
        if self._is_url:
            return self._fetch(self._source)
        return Path(self._source).read_bytes()

    def _store(self, raw: bytes) -> bool:
        """Replace the keys with those of ``raw``; True when this is the first set read since the start."""
        document = json.loads(raw)
        keys: dict[str, jwt.PyJWK] = {}
        unnamed: list[jwt.PyJWK] = []
        for jwk in document["keys"]:
            if jwk.get("use", "sig") != "sig" or jwk.get("kty") not in ALGORITHMS.values():
                continue  # an encryption key, or a type never accepted (an HMAC "oct" key)
            try:
                parsed = jwt.PyJWK.from_dict(jwk)
            except jwt.PyJWTError:
                continue  # a malformed key is left out; the others still serve
            unnamed.append(parsed)
            if isinstance(jwk.get("kid"), str):
                keys[jwk["kid"]] = parsed
        with self._lock:
            self._keys, self._keys_by_type = keys, unnamed
            first, self._read_once = not self._read_once, True
        return first

    def _refetch(self) -> None:
        """Read the set again; a failure keeps the keys we have (logged: the provider may be down)."""
        try:
            if self._store(self._read()):
                log.warning("the identity provider's key set at %s is read now: bearer tokens are accepted",
                            VettedName(self._host))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("the identity provider's key set at %s cannot be read again (%s); the cached keys serve",
                        VettedName(self._host), VettedName(_why(exc)))

    def only(self, key_type: str) -> jwt.PyJWK | None:
        """The one key of ``key_type``, for a token without ``kid`` (some providers publish a single key and name
        none); None when there are several, or none. While no set has been read, it is tried again first."""
        if not self._read_once:
            self._refetch_if_due()
        with self._lock:
            keys = [k for k in self._keys_by_type if k.key_type == key_type]
        return keys[0] if len(keys) == 1 else None

    def key(self, kid: str) -> jwt.PyJWK | None:
        """The key named ``kid``; an unknown one triggers one refetch per ``REFETCH_INTERVAL_S`` (every
        ``UNREAD_RETRY_S`` while no set has been read). The fetch runs outside the lock, so known keys never wait."""
        with self._lock:
            found = self._keys.get(kid)
        if found is not None:
            return found
        self._refetch_if_due()
        with self._lock:
            return self._keys.get(kid)

    def _refetch_if_due(self) -> None:
        """One refetch at a time, at most once per interval; a caller arriving during it waits for its answer."""
        with self._lock:
            inflight, mine = self._inflight, False
            if inflight is None:
                interval = REFETCH_INTERVAL_S if self._read_once else UNREAD_RETRY_S
                if self._clock() - self._fetched_at < interval:
                    return
                inflight = self._inflight = threading.Event()
                self._fetched_at, mine = self._clock(), True
        if not mine:
            inflight.wait(FETCH_TIMEOUT_S + 1.0)
            return
        try:
            self._refetch()
        finally:
            with self._lock:
                self._inflight = None
            inflight.set()


def _transient(exc: Exception) -> bool:
    """A failure that may pass by itself (the provider down or overloaded, the network): not a wrong setting."""
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code >= 500 or exc.code == 429
    return isinstance(exc, (urllib.error.URLError, ConnectionError, TimeoutError))


def _why(exc: Exception) -> str:
    """A failure's kind in a few words: the HTTP status, or the network error's class (never the body)."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP-{exc.code}"
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        return f"{type(exc).__name__}:{type(exc.reason).__name__}"
    return type(exc).__name__


@dataclass(frozen=True)
class ProviderMetadata:
    """What the gateway reads from a provider's discovery document; the two endpoints serve the console's
    sign-in (empty when the document names none)."""

    issuer: str
    jwks_uri: str
    authorization_endpoint: str = ""
    token_endpoint: str = ""


class ProviderUnreachable(ConfigurationError):
    """The discovery document could not be read for a reason that may pass (the provider down, overloaded, the
    network): not a wrong setting, so the gateway starts and tries again (``gateway.auth.discovery``)."""

    why = ""  # the failure's kind in a few words (``_why``)


def discover(url: str, fetch: Fetch = fetch_url) -> ProviderMetadata:
    """The provider's metadata from its ``.well-known/openid-configuration``."""
    try:
        document = json.loads(fetch(url))
        issuer, jwks_uri = document["issuer"], document["jwks_uri"]
        endpoints = document.get("authorization_endpoint", ""), document.get("token_endpoint", "")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        host = urllib.parse.urlsplit(url).netloc.rpartition("@")[2]
        said = f"cannot read the OIDC discovery document at {host}: {_why(exc)}"
        if not _transient(exc):  # a 404, a document that is not JSON: a wrong setting
            raise ConfigurationError(said) from exc
        unreachable = ProviderUnreachable(said)
        unreachable.why = _why(exc)
        raise unreachable from exc
    if not isinstance(issuer, str) or not isinstance(jwks_uri, str):
        raise ConfigurationError("the OIDC discovery document has no issuer or jwks_uri")
    if not all(isinstance(e, str) for e in endpoints):
        raise ConfigurationError("the OIDC discovery document's endpoints are not URLs")
    return ProviderMetadata(issuer, jwks_uri, *endpoints)


@dataclass(frozen=True)
class ClaimNames:
    tenant: str = "tenant"
    subject: str = "sub"
    roles: str = "roles"


class TokenVerifier:
    """Turns a bearer JWT into an ``Identity``, or refuses it with a ``TokenRefused`` reason."""

    def __init__(self, issuer: str, audience: str, keys: JwksCache, claims: ClaimNames = ClaimNames(),
                 clock: Callable[[], float] = time.time) -> None:
        self._issuer = issuer
        self._audience = audience
        self._keys = keys
        self._claims = claims
        self._clock = clock

    @property
    def issuer(self) -> str:
        return self._issuer

    @property
    def keys(self) -> JwksCache:
        return self._keys

    @property
    def claims(self) -> ClaimNames:
        return self._claims

    def verify(self, token: str, nonce: str | None = None) -> Identity:
        """The token's identity; with ``nonce`` (an ID token of the console's sign-in) its ``nonce`` claim must be
        that value, and an ``azp`` claim must name the audience (the console's client id)."""
        if len(token) > MAX_TOKEN_CHARS:
            raise TokenRefused("malformed")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRefused("malformed") from None
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or alg not in ALGORITHMS:
            raise TokenRefused("unsupported_algorithm")
        if kid is not None and not isinstance(kid, str):
            raise TokenRefused("malformed")
        key = self._keys.key(kid) if kid is not None else self._keys.only(ALGORITHMS[alg])
        if key is None:
            raise TokenRefused("unknown_key" if self._keys.read_once else "provider_unavailable")
        if key.key_type != ALGORITHMS[alg] or key.algorithm_name != alg:
            raise TokenRefused("unsupported_algorithm")  # a key of another type than the header's algorithm
        claims = self._decode(token, key, alg)
        if nonce is not None:
            presented = claims.get("nonce")
            if not isinstance(presented, str) or not hmac.compare_digest(presented.encode(), nonce.encode()):
                raise TokenRefused("wrong_nonce")
            if claims.get("azp", self._audience) != self._audience:
                raise TokenRefused("wrong_audience")
        return self._identity(claims)

    def _decode(self, token: str, key: jwt.PyJWK, alg: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=[alg], audience=self._audience, issuer=self._issuer, leeway=LEEWAY_S,
                options={"require": ["exp", "iat", "iss", "aud"], "verify_iat": True},
            )
        except jwt.PyJWTError as exc:  # the first matching class names the reason; subclasses come first
            reason = next((r for cls, r in _REFUSALS if isinstance(exc, cls)), "malformed")
            claim = exc.claim if isinstance(exc, jwt.MissingRequiredClaimError) else None
            tenant = self._signed_tenant(token, key, alg) if reason == "expired" else None
            raise TokenRefused(reason, claim, tenant) from None
        return claims

    def _signed_tenant(self, token: str, key: jwt.PyJWK, alg: str) -> str | None:
        """The tenant of a token refused only for its age: PyJWT checks the signature, audience and issuer before
        the expiry, so the claim is the provider's. None when it is not a valid tenant name."""
        try:
            claims = jwt.decode(token, key.key, algorithms=[alg], audience=self._audience, issuer=self._issuer,
                                options={"verify_exp": False})
            tenant = claims.get(self._claims.tenant)
            return tenant if isinstance(tenant, str) and _tenant_ok(tenant) else None
        except jwt.PyJWTError:
            return None

    def _identity(self, claims: dict[str, Any]) -> Identity:
        tenant, subject = claims.get(self._claims.tenant), claims.get(self._claims.subject)
        if not isinstance(tenant, str) or not tenant:
            raise TokenRefused("missing_claim", self._claims.tenant)
        if not isinstance(subject, str) or not subject:
            raise TokenRefused("missing_claim", self._claims.subject)
        if not _tenant_ok(tenant):  # the API keys' rules: "ACME" is refused, never a tenant beside "acme"
            raise TokenRefused("invalid_claim", self._claims.tenant)
        try:  # the claim's value may be personal data (an e-mail address): only its name is said
            validate_name("subject", subject)
        except BadRequest:
            raise TokenRefused("invalid_claim", self._claims.subject) from None
        raw_roles = claims.get(self._claims.roles, [])
        roles = [raw_roles] if isinstance(raw_roles, str) else raw_roles
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise TokenRefused("malformed")
        return Identity(tenant, subject, tuple(dict.fromkeys(r for r in roles if r)))


def _tenant_ok(tenant: str) -> bool:
    """A tenant id, as API keys' tenants are, and nothing that reads as an SSN, a card number or an IBAN: the tenant
    is written into every audit entry for ever and onto ``/metrics`` (session 18: a token with ``tenant:
    536-90-4721`` was served as a new tenant). The subject is not held to this: providers' numeric user ids
    would read as card numbers (``docs/identity.md``)."""
    return is_tenant_id(tenant) and identifier_in(tenant) is None
