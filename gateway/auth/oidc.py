"""Bearer JWTs from the company's identity provider (OIDC), validated against the provider's JWKS.

Only asymmetric signatures are accepted (RS256, ES256, EdDSA), and only with a key of the matching type from the
provider's key set: ``alg: none`` and HMAC algorithms are refused before any key is looked at, so a public key can
never be used as an HMAC secret. ``iss`` and ``aud`` must match exactly; ``exp``, ``nbf`` and ``iat`` are checked
with a small leeway. A token whose ``kid`` is not in the cached key set makes the cache fetch the set again, at
most once per ``REFETCH_INTERVAL_S``, so the provider's key rotation needs no restart and a flood of made-up
``kid`` values costs no flood of fetches.

A refusal is a ``TokenRefused`` whose ``reason`` is one word of ``REASONS``; neither the token nor a claim's value
is ever part of the message (the token is a credential, its claims may be personal data).
"""

from __future__ import annotations

import hmac
import json
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from gateway.auth.apikeys import validate_name
from gateway.errors import BadRequest, ConfigurationError, Unauthenticated

ALGORITHMS = {"RS256": "RSA", "ES256": "EC", "EdDSA": "OKP"}
LEEWAY_S = 60
REFETCH_INTERVAL_S = 30.0
FETCH_TIMEOUT_S = 5.0
MAX_TOKEN_CHARS = 16 * 1024
REASONS = ("expired", "not_yet_valid", "wrong_audience", "wrong_issuer", "bad_signature", "unknown_key",
           "unsupported_algorithm", "malformed", "missing_claim", "no_known_role", "wrong_nonce")


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
        self._fetched_at: float | None = None
        self._load()

    def _read(self) -> bytes:
        if self._source.startswith(("https://", "http://")):
            return self._fetch(self._source)
        return Path(self._source).read_bytes()

    def _load(self) -> None:
        try:
            document = json.loads(self._read())
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
        except (OSError, ValueError, KeyError, TypeError) as exc:
            if self._fetched_at is None:
                raise ConfigurationError(f"cannot read the OIDC key set: {type(exc).__name__}") from exc
            return  # a failed refetch keeps the keys we have
        finally:
            self._fetched_at = self._clock()
        self._keys, self._keys_by_type = keys, unnamed

    def only(self, key_type: str) -> jwt.PyJWK | None:
        """The one key of ``key_type``, for a token without ``kid`` (some providers publish a single key and name
        none); None when there are several, or none."""
        with self._lock:
            keys = [k for k in self._keys_by_type if k.key_type == key_type]
        return keys[0] if len(keys) == 1 else None

    def key(self, kid: str) -> jwt.PyJWK | None:
        """The key named ``kid``; an unknown one triggers one refetch per ``REFETCH_INTERVAL_S``."""
        with self._lock:
            found = self._keys.get(kid)
            if found is None and (self._fetched_at is None or self._clock() - self._fetched_at >= REFETCH_INTERVAL_S):
                self._load()
                found = self._keys.get(kid)
            return found


@dataclass(frozen=True)
class ProviderMetadata:
    """What the gateway reads from a provider's discovery document; the two endpoints serve the console's
    sign-in (empty when the document names none)."""

    issuer: str
    jwks_uri: str
    authorization_endpoint: str = ""
    token_endpoint: str = ""


def discover(url: str, fetch: Fetch = fetch_url) -> ProviderMetadata:
    """The provider's metadata from its ``.well-known/openid-configuration``."""
    try:
        document = json.loads(fetch(url))
        issuer, jwks_uri = document["issuer"], document["jwks_uri"]
        endpoints = document.get("authorization_endpoint", ""), document.get("token_endpoint", "")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigurationError(f"cannot read the OIDC discovery document: {type(exc).__name__}") from exc
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
            raise TokenRefused("unknown_key")
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
            return validate_name("tenant", tenant) if isinstance(tenant, str) else None
        except (jwt.PyJWTError, BadRequest):
            return None

    def _identity(self, claims: dict[str, Any]) -> Identity:
        tenant, subject = claims.get(self._claims.tenant), claims.get(self._claims.subject)
        if not isinstance(tenant, str) or not tenant:
            raise TokenRefused("missing_claim", self._claims.tenant)
        if not isinstance(subject, str) or not subject:
            raise TokenRefused("missing_claim", self._claims.subject)
        raw_roles = claims.get(self._claims.roles, [])
        roles = [raw_roles] if isinstance(raw_roles, str) else raw_roles
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise TokenRefused("malformed")
        return Identity(tenant, subject, tuple(dict.fromkeys(r for r in roles if r)))
