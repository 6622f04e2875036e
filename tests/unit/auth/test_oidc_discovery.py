"""The discovery document (``oidc_discovery``) read lazily: a provider down at start (refused, 503, timeout) no longer
stops the gateway; tokens are ``provider_unavailable`` until a retry (at most every ``UNREAD_RETRY_S``) reads it.
A wrong setting (404, not JSON, no jwks_uri, another issuer) still stops the start, naming the host and why."""

from __future__ import annotations

import io
import json
import logging
import time
import urllib.error
from email.message import Message

import jwt
import pytest

from gateway.auth.discovery import DiscoveredVerifier, Discovery
from gateway.auth.oidc import UNREAD_RETRY_S, ClaimNames, TokenRefused
from gateway.errors import ConfigurationError
from tests.oidckit import AUDIENCE, ISSUER, Signer, jwks

DISCOVERY = "https://login.example.test/.well-known/openid-configuration"
JWKS = "https://login.example.test/keys"
REFUSED = urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))


def _http_error(code: int) -> urllib.error.HTTPError:
    return urllib.error.HTTPError(DISCOVERY, code, "status", Message(), io.BytesIO(b"the provider's words"))


class Provider:
    """The discovery document and key set, switchable: up, down (an exception), or another answer."""

    def __init__(self, signer: Signer) -> None:
        self.down: Exception | None = None
        self.document: bytes = json.dumps({"issuer": ISSUER, "jwks_uri": JWKS}).encode()
        self.keys = json.dumps(jwks(signer)).encode()
        self.fetches: list[str] = []
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    def fetch(self, url: str) -> bytes:
        self.fetches.append(url)
        if self.down is not None:
            raise self.down
        return self.document if url == DISCOVERY else self.keys


@pytest.fixture(scope="module")
def rsa() -> Signer:
    return Signer("RS256", "rsa-1")


def _token(signer: Signer) -> str:
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "tenant": "acme", "roles": ["writer"],
              "iat": int(time.time()), "exp": int(time.time()) + 300}
    return jwt.encode(claims, signer.key, algorithm="RS256", headers={"kid": "rsa-1"})


def _reason(verifier: DiscoveredVerifier, token: str) -> str:
    with pytest.raises(TokenRefused) as info:
        verifier.verify(token)
    return info.value.reason


@pytest.mark.parametrize("failure", [REFUSED, _http_error(503), TimeoutError()], ids=["refused", "503", "timeout"])
def test_when_the_provider_is_down_at_start_then_tokens_wait_for_a_retry_and_pass_once_it_answers(
    rsa: Signer, failure: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    provider = Provider(rsa)
    provider.down = failure
    with caplog.at_level(logging.WARNING, logger="gateway.auth.discovery"):
        found = Discovery(DISCOVERY, fetch=provider.fetch, clock=provider.clock)  # no ConfigurationError
    assert any("login.example.test" in r.getMessage() for r in caplog.records)
    verifier = DiscoveredVerifier(found, AUDIENCE, ClaimNames())
    token = _token(rsa)
    assert _reason(verifier, token) == "provider_unavailable"
    provider.down = None
    assert _reason(verifier, token) == "provider_unavailable"  # within the retry interval: no new fetch
    assert provider.fetches == [DISCOVERY]
    provider.now += UNREAD_RETRY_S
    assert verifier.verify(token).subject == "alice"
    assert verifier.issuer == ISSUER and found.metadata() is not None


@pytest.mark.parametrize(("answer", "why"), [
    (_http_error(404), "HTTP-404"), (b"<html>sign in</html>", "JSONDecodeError"), (b'{"issuer": "x"}', "KeyError"),
])
def test_when_the_setting_is_wrong_then_the_start_fails_naming_the_host_and_why(
    rsa: Signer, answer: Exception | bytes, why: str
) -> None:
    provider = Provider(rsa)
    if isinstance(answer, bytes):
        provider.document = answer
    else:
        provider.down = answer
    with pytest.raises(ConfigurationError) as info:
        Discovery(DISCOVERY, fetch=provider.fetch, clock=provider.clock)
    assert str(info.value) == f"cannot read the OIDC discovery document at login.example.test: {why}"


def test_when_the_document_names_another_issuer_than_oidc_issuer_then_the_start_fails(rsa: Signer) -> None:
    with pytest.raises(ConfigurationError, match="names another issuer"):
        Discovery(DISCOVERY, "https://other.example.test", fetch=Provider(rsa).fetch)


def test_when_a_provider_down_at_start_later_answers_a_404_then_tokens_stay_refused_and_the_log_says_why(
    rsa: Signer, caplog: pytest.LogCaptureFixture
) -> None:
    provider = Provider(rsa)
    provider.down = REFUSED
    verifier = DiscoveredVerifier(Discovery(DISCOVERY, fetch=provider.fetch, clock=provider.clock), AUDIENCE,
                                  ClaimNames())
    provider.down, provider.now = _http_error(404), provider.now + UNREAD_RETRY_S
    with caplog.at_level(logging.ERROR, logger="gateway.auth.discovery"):
        assert _reason(verifier, _token(rsa)) == "provider_unavailable"
    assert any("HTTP-404" in r.getMessage() and "provider's words" not in r.getMessage() for r in caplog.records)
