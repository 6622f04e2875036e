"""Who is calling: an API key (services) or a bearer JWT of the company's identity provider (people and services).

``gk_...`` is an API key, looked up by its id and compared in constant time (``auth.apikeys``). Anything else is a
token when OIDC is configured (``auth.oidc``): its tenant is its only tenant, its roles are the gateway's roles or
the provider's group names that ``policy.csv`` maps to roles in that tenant (``g, okta:risk-analysts, reader,
acme``), and a token with no role known in its tenant is refused. The principal of a token carries a stable id
derived from the issuer and subject (for per-caller limits), and the method ``oidc`` for the audit entries.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from gateway.auth.apikeys import ApiKeyRepository, Principal, authenticate, validate_name, validate_tenant
from gateway.auth.authz import Authorizer
from gateway.auth.console_login import ConsoleSignIn
from gateway.auth.discovery import DiscoveredVerifier, Discovery, Verifier
from gateway.auth.last_used import LastUsed
from gateway.auth.oidc import ClaimNames, Identity, JwksCache, TokenRefused, TokenVerifier
from gateway.errors import BadRequest, ConfigurationError
from gateway.settings import Settings

API_KEY_PREFIX = "gk_"


class Authenticator:
    """Resolves a presented credential to a principal, or raises ``Unauthenticated`` (``TokenRefused`` for tokens)."""

    def __init__(self, apikeys: ApiKeyRepository, authorizer: Authorizer, tokens: Verifier | None = None) -> None:
        self._apikeys = apikeys
        self._authorizer = authorizer
        self._tokens = tokens
        self.last_used = LastUsed(apikeys)

    def authenticate(self, presented: str | None) -> Principal:
        if self._tokens is None or presented is None or presented.startswith(API_KEY_PREFIX):
            principal = authenticate(self._apikeys, presented)
            self.last_used.mark(principal.key_id)
            return principal
        return self.principal_of(self._tokens.verify(presented))

    def principal_of(self, identity: Identity) -> Principal:
        """The principal of a token's identity (a bearer token, or the console's ID token); refused without a
        valid tenant and subject or without a role known in that tenant."""
        try:  # the provider vouches for both, and both go into entries: the names' rules apply
            validate_tenant(identity.tenant)
            validate_name("subject", identity.subject)
        except BadRequest:
            raise TokenRefused("malformed") from None
        roles = tuple(r for r in identity.roles if self._authorizer.known_role(r, identity.tenant))
        if not roles:  # a signed, valid token: the refusal is its tenant's to see
            raise TokenRefused("no_known_role", tenant=identity.tenant)
        issuer = self._tokens.issuer if self._tokens is not None else ""  # known: a token of it was accepted
        caller = hashlib.sha256(f"{issuer}\n{identity.tenant}\n{identity.subject}".encode()).hexdigest()[:16]
        return Principal(caller, identity.tenant, identity.subject, ",".join(roles), roles, method="oidc")


def provider_discovery(settings: Settings) -> Discovery | None:
    """The provider's discovery document when ``oidc_discovery`` names it: read at start if the provider answers,
    else later (``gateway.auth.discovery``); a wrong setting raises ``ConfigurationError``."""
    return Discovery(settings.oidc_discovery, settings.oidc_issuer) if settings.oidc_discovery else None


def token_verifier(settings: Settings, found: Discovery | None = None) -> Verifier | None:
    """The verifier the ``oidc_*`` settings describe (the discovered provider, if named); None when off."""
    claims = ClaimNames(settings.oidc_tenant_claim, settings.oidc_subject_claim, settings.oidc_roles_claim)
    if settings.oidc_discovery:
        return DiscoveredVerifier(found or Discovery(settings.oidc_discovery, settings.oidc_issuer),
                                  settings.oidc_audience, claims)
    if not settings.oidc_jwks:
        return None
    return TokenVerifier(settings.oidc_issuer, settings.oidc_audience, JwksCache(settings.oidc_jwks), claims)


def console_sign_in(settings: Settings, found: Discovery | None, tokens: Verifier | None,
                    identity: Authenticator) -> ConsoleSignIn | None:
    """The console's sign-in through the provider, when ``oidc_console_client_id`` is set: ID tokens are checked
    against the discovered issuer and key set with the console's client id as their audience."""
    if not settings.oidc_console_client_id:
        return None
    if found is None or not isinstance(tokens, DiscoveredVerifier):
        raise ConfigurationError("setting oidc_console_client_id: the console's sign-in needs oidc_discovery (the "
                                 "provider's authorization and token endpoints)")
    secret = ""
    if settings.oidc_console_client_secret_file:
        try:
            secret = Path(settings.oidc_console_client_secret_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigurationError(f"setting oidc_console_client_secret_file: cannot read it "
                                     f"({type(exc).__name__})") from exc
        if not secret:
            raise ConfigurationError("setting oidc_console_client_secret_file: the file is empty")
    verifier = tokens.for_audience(settings.oidc_console_client_id)
    return ConsoleSignIn(settings.oidc_console_client_id, secret, settings.oidc_console_redirect_uri,
                         settings.oidc_console_scopes, found.metadata, verifier, identity.principal_of,
                         label=found.host)
