"""The identity provider's key set when the provider is down or slow: at start, later, and during a refetch.

A key set URL that cannot be reached at start no longer stops the gateway (API keys keep serving); its tokens are
refused as ``provider_unavailable`` until the set is read, tried again at most every ``UNREAD_RETRY_S``. A wrong
setting (a missing file, a 404, a document that is no key set) still stops the start, now naming why. A refetch
for a new ``kid`` no longer holds the cache's lock while it waits for the provider: tokens of known keys pass.
"""

from __future__ import annotations

import io
import json
import threading
import time
import urllib.error
from email.message import Message
from pathlib import Path

import jwt
import pytest

from gateway.auth.oidc import UNREAD_RETRY_S, JwksCache, ProviderUnreachable, TokenRefused, TokenVerifier, discover
from gateway.errors import ConfigurationError
from tests.oidckit import AUDIENCE, ISSUER, Signer, jwks
from tests.unit.auth.test_oidc import Clock

URL = "https://idp.example.test/jwks"


class Provider:
    """A JWKS URL whose answer can be switched: up, refused, an HTTP status, or held until released."""

    def __init__(self, *signers: Signer) -> None:
        self.document = jwks(*signers)
        self.down: Exception | None = None
        self.fetches = 0
        self.hold: threading.Event | None = None
        self.holding = threading.Event()

    def fetch(self, url: str) -> bytes:
        assert url == URL
        self.fetches += 1
        if self.hold is not None:
            self.holding.set()
            self.hold.wait(10)
        if self.down is not None:
            raise self.down
        return json.dumps(self.document).encode()


def _http_error(code: int) -> urllib.error.HTTPError:
    return urllib.error.HTTPError(URL, code, "status", Message(), io.BytesIO(b"the provider's words"))


REFUSED = urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))


@pytest.fixture(scope="module")
def rsa() -> Signer:
    return Signer("RS256", "rsa-1")


def _reason(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(TokenRefused) as info:
        verifier.verify(token)
    return info.value.reason


@pytest.mark.parametrize("failure", [REFUSED, _http_error(503), TimeoutError()], ids=["refused", "503", "timeout"])
def test_when_the_provider_is_down_at_start_then_the_gateway_starts_and_tokens_pass_once_it_answers(
    rsa: Signer, failure: Exception
) -> None:
    provider, clock = Provider(rsa), Clock()
    provider.down = failure
    cache = JwksCache(URL, provider.fetch, clock)  # raised ConfigurationError: the whole gateway did not start
    verifier = TokenVerifier(ISSUER, AUDIENCE, cache)
    assert _reason(verifier, rsa.token()) == "provider_unavailable"
    provider.down = None
    assert _reason(verifier, rsa.token()) == "provider_unavailable"  # not before the retry interval
    clock.now += UNREAD_RETRY_S
    assert verifier.verify(rsa.token()).subject == "alice@acme"


def test_when_the_provider_stays_down_then_tokens_fetch_at_most_once_per_retry_interval(rsa: Signer) -> None:
    provider, clock = Provider(rsa), Clock()
    provider.down = REFUSED
    verifier = TokenVerifier(ISSUER, AUDIENCE, JwksCache(URL, provider.fetch, clock))
    for _ in range(40):
        assert _reason(verifier, rsa.token()) == "provider_unavailable"
        clock.now += 0.5
    assert provider.fetches <= 1 + int(40 * 0.5 / UNREAD_RETRY_S) + 1


@pytest.mark.parametrize(("failure", "said"), [
    (_http_error(404), "HTTP-404"),
    (ValueError("not json"), "ValueError"),
])
def test_when_the_key_set_url_is_wrong_then_the_start_fails_naming_the_host_and_why(
    failure: Exception, said: str
) -> None:
    provider = Provider()
    provider.down = failure
    with pytest.raises(ConfigurationError) as info:
        JwksCache(URL, provider.fetch, Clock())
    assert str(info.value) == f"cannot read the OIDC key set at idp.example.test: {said}"
    assert "provider's words" not in str(info.value)


def test_when_the_key_set_file_is_missing_then_the_start_still_fails(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read the OIDC key set: FileNotFoundError"):
        JwksCache(str(tmp_path / "missing.json"))


def test_when_a_refetch_waits_on_a_slow_provider_then_tokens_of_known_keys_do_not_wait(rsa: Signer) -> None:
    rotated = Signer("RS256", "rsa-2")
    provider, clock = Provider(rsa), Clock()
    verifier = TokenVerifier(ISSUER, AUDIENCE, JwksCache(URL, provider.fetch, clock))
    clock.now += 60
    provider.document = jwks(rsa, rotated)
    provider.hold = threading.Event()
    outcome: list[str] = []
    refetching = threading.Thread(target=lambda: outcome.append(verifier.verify(rotated.token()).subject))
    refetching.start()
    assert provider.holding.wait(5)
    started = time.monotonic()
    assert verifier.verify(rsa.token()).subject == "alice@acme"  # waited for the lock, i.e. for the provider
    assert time.monotonic() - started < 1.0
    provider.hold.set()
    refetching.join(5)
    assert outcome == ["alice@acme"]  # the new kid's caller waited for the refetch and got its key


def test_when_the_discovery_document_cannot_be_reached_then_discover_says_so_naming_the_host_and_why() -> None:
    def refused(url: str) -> bytes:
        raise REFUSED

    with pytest.raises(ProviderUnreachable) as info:  # not a wrong setting: the start goes on (test_oidc_discovery)
        discover("https://login.example.test/.well-known/openid-configuration", refused)
    assert str(info.value).startswith("cannot read the OIDC discovery document at login.example.test: "
                                      "URLError:ConnectionRefusedError")


def test_when_the_provider_is_down_at_start_then_a_token_without_kid_passes_once_it_answers(rsa: Signer) -> None:
    provider, clock = Provider(rsa), Clock()
    provider.down = REFUSED
    verifier = TokenVerifier(ISSUER, AUDIENCE, JwksCache(URL, provider.fetch, clock))
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice@acme", "tenant": "acme", "roles": ["writer"],
              "iat": int(time.time()), "exp": int(time.time()) + 300}
    token = jwt.encode(claims, rsa.key, algorithm="RS256")  # no kid: a provider that publishes one key
    assert _reason(verifier, token) == "provider_unavailable"
    provider.down = None
    clock.now += UNREAD_RETRY_S  # before, only a token naming a kid ever fetched the set again: refused until restart
    assert verifier.verify(token).subject == "alice@acme"
