"""The identity provider's discovery document (``oidc_discovery``), read at start and, while it cannot be, later.

A provider that cannot be reached at start (down, overloaded, a network blip: ``ProviderUnreachable``) does not stop
the gateway, as a key set URL that cannot be reached does not: a warning names the provider's host and why, API
keys keep serving, bearer tokens are refused as ``provider_unavailable``, the console's sign-in says the provider is
unavailable, and the document is tried again at most every ``UNREAD_RETRY_S`` (on the next token or sign-in) until
it is read. A wrong setting still stops the start, naming the host and why: a 404, a document that is not JSON or
names no issuer or key set, another issuer than ``oidc_issuer``, a key set that answers a 404. Once read, the
document is kept for the life of the process; its key set is a ``JwksCache`` (refetched for a new ``kid``).
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Protocol

from gateway.auth.oidc import (
    UNREAD_RETRY_S,
    ClaimNames,
    Fetch,
    Identity,
    JwksCache,
    ProviderMetadata,
    ProviderUnreachable,
    TokenRefused,
    TokenVerifier,
    discover,
    fetch_url,
)
from gateway.errors import ConfigurationError
from gateway.observability.logs import Vetted, VettedName

log = logging.getLogger(__name__)

Found = tuple[ProviderMetadata, JwksCache]


class Verifier(Protocol):
    """What the gateway asks of a token verifier: ``TokenVerifier`` (a static key set) or ``DiscoveredVerifier``."""

    @property
    def issuer(self) -> str: ...

    def verify(self, token: str, nonce: str | None = None) -> Identity: ...


class Discovery:
    """The provider's metadata and key set, once its discovery document has been read; None until then."""

    def __init__(self, url: str, issuer: str = "", fetch: Fetch = fetch_url,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``issuer``: the ``oidc_issuer`` setting, which the document must name when set. Raises
        ``ConfigurationError`` for a wrong setting; a provider that does not answer is only logged."""
        self._url, self._issuer, self._fetch, self._clock = url, issuer, fetch, clock
        self._lock = threading.Lock()
        self._tried_at = clock()
        self._found: Found | None = None
        try:
            self._found = self._read()
        except ProviderUnreachable as exc:
            log.warning("the identity provider's discovery document at %s cannot be read (%s): bearer tokens are "
                        "refused and the console's sign-in is unavailable until it can; API keys are not affected; "
                        "tried again at most every %d s", VettedName(self.host), VettedName(exc.why),
                        int(UNREAD_RETRY_S))

    @property
    def host(self) -> str:
        """host:port of the document's URL, never its path, query or credentials."""
        return urllib.parse.urlsplit(self._url).netloc.rpartition("@")[2]

    @property
    def expected_issuer(self) -> str:
        return self._issuer

    def _read(self) -> Found:
        found = discover(self._url, self._fetch)
        if self._issuer and found.issuer != self._issuer:
            raise ConfigurationError("setting oidc_issuer: the provider's discovery document names another issuer")
        return found, JwksCache(found.jwks_uri, self._fetch, self._clock)

    def metadata(self) -> ProviderMetadata | None:
        """The discovery document's metadata (the console's endpoints), or None while it cannot be read."""
        found = self.current()
        return found[0] if found is not None else None

    def current(self) -> Found | None:
        """The metadata and key set; while unread, one caller at a time tries again (at most every
        ``UNREAD_RETRY_S``) and the others go on without waiting."""
        found = self._found
        if found is not None or not self._lock.acquire(blocking=False):
            return found
        try:
            if self._found is None and self._clock() - self._tried_at >= UNREAD_RETRY_S:
                self._tried_at = self._clock()
                try:
                    self._found = self._read()
                    log.warning("the identity provider's discovery document at %s is read now: bearer tokens and "
                                "the console's sign-in are served", VettedName(self.host))
                except ProviderUnreachable:
                    pass  # said at start; still down
                except ConfigurationError as exc:  # it answers now, but not as configured: the operator must know
                    log.error("the identity provider's discovery document at %s: %s", VettedName(self.host),
                              Vetted(str(exc)))  # built from the host and the failure's kind, never a body
            return self._found
        finally:
            self._lock.release()


class DiscoveredVerifier:
    """A ``TokenVerifier`` of the discovered issuer and key set; ``provider_unavailable`` until they are known."""

    def __init__(self, discovery: Discovery, audience: str, claims: ClaimNames) -> None:
        self._discovery, self._audience, self._claims = discovery, audience, claims
        self._verifier: TokenVerifier | None = None
        self._lock = threading.Lock()

    @property
    def issuer(self) -> str:
        """The issuer tokens must name: the discovered one ("" while unknown, unless ``oidc_issuer`` is set)."""
        found = self._discovery.current()
        return found[0].issuer if found is not None else self._discovery.expected_issuer

    def for_audience(self, audience: str) -> DiscoveredVerifier:
        """The same provider's tokens for another client (the console's ID tokens)."""
        return DiscoveredVerifier(self._discovery, audience, self._claims)

    def verify(self, token: str, nonce: str | None = None) -> Identity:
        return self._current().verify(token, nonce)

    def _current(self) -> TokenVerifier:
        found = self._discovery.current()
        if found is None:
            raise TokenRefused("provider_unavailable")
        with self._lock:
            if self._verifier is None:
                metadata, keys = found
                self._verifier = TokenVerifier(metadata.issuer, self._audience, keys, self._claims)
            return self._verifier

