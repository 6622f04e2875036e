"""The console's PKCE sign-in with a fake token endpoint and locally minted ID tokens: what is sent to the
provider, single use and expiry of a started sign-in, and the ID token's checks (nonce, audience, azp, expiry)."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from gateway.auth.apikeys import Principal
from gateway.auth.console_login import (
    LOGIN_TTL_S,
    STARTS_PER_MINUTE,
    ConsoleSignIn,
    PendingLogins,
    SignInRefused,
    pkce_challenge,
)
from gateway.auth.oidc import Identity, JwksCache, ProviderMetadata, TokenRefused, TokenVerifier
from gateway.errors import RateLimited
from tests.oidckit import ISSUER, Signer, jwks

CLIENT = "audit-console"
REDIRECT = "https://gateway.example.test/console/oidc/callback"
PROVIDER = ProviderMetadata(ISSUER, "unused", "https://idp.example.test/authorize", "https://idp.example.test/token")


class FakeTokenEndpoint:
    def __init__(self, signer: Signer) -> None:
        self.signer = signer
        self.claims: dict[str, Any] = {}
        self.status = 200
        self.requests: list[tuple[dict[str, str], dict[str, str]]] = []
        self.nonce_of: dict[str, str] = {}  # code -> nonce, as the provider would remember it

    def __call__(self, url: str, data: Mapping[str, str], headers: Mapping[str, str]) -> tuple[int, bytes]:
        assert url == PROVIDER.token_endpoint
        self.requests.append((dict(data), dict(headers)))
        claims = {"aud": CLIENT, "nonce": self.nonce_of.get(data["code"], ""), "roles": ["auditor"], **self.claims}
        return self.status, json.dumps({"id_token": self.signer.token(claims)}).encode()


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _principal(identity: Identity) -> Principal:
    return Principal("caller", identity.tenant, identity.subject, ",".join(identity.roles), identity.roles, "oidc")


@pytest.fixture
def signer() -> Signer:
    return Signer("ES256", "idp-1")


def _login(tmp_path: Path, signer: Signer, secret: str = "") -> tuple[ConsoleSignIn, FakeTokenEndpoint, Clock]:
    keyset = tmp_path / "jwks.json"
    keyset.write_text(json.dumps(jwks(signer)))
    endpoint, clock = FakeTokenEndpoint(signer), Clock()
    verifier = TokenVerifier(ISSUER, CLIENT, JwksCache(str(keyset)))
    return ConsoleSignIn(CLIENT, secret, "", "openid", PROVIDER, verifier, _principal, endpoint, clock), endpoint, clock


def _begin(login: ConsoleSignIn, endpoint: FakeTokenEndpoint, code: str = "the-code") -> tuple[str, dict[str, str]]:
    cookie, url = login.begin(REDIRECT)
    query = {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).items()}
    endpoint.nonce_of[code] = query["nonce"]
    return cookie, query


def test_when_a_sign_in_completes_then_the_verifier_of_the_s256_challenge_is_sent(tmp_path: Path,
                                                                                   signer: Signer) -> None:
    login, endpoint, _ = _login(tmp_path, signer)
    cookie, query = _begin(login, endpoint)
    principal = login.complete(cookie, {"state": query["state"], "code": "the-code"})
    assert (principal.tenant, principal.subject, principal.roles) == ("acme", "alice@acme", ("auditor",))
    form, headers = endpoint.requests[0]
    digest = hashlib.sha256(form["code_verifier"].encode()).digest()
    assert query["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert (form["grant_type"], form["client_id"], form["redirect_uri"]) == ("authorization_code", CLIENT, REDIRECT)
    assert "Authorization" not in headers and "client_secret" not in form  # a public client: PKCE alone


def test_when_a_client_secret_is_set_then_it_goes_in_basic_auth_never_the_form(tmp_path: Path, signer: Signer) -> None:
    login, endpoint, _ = _login(tmp_path, signer, secret="p@ss:word")
    cookie, query = _begin(login, endpoint)
    login.complete(cookie, {"state": query["state"], "code": "the-code"})
    form, headers = endpoint.requests[0]
    decoded = base64.b64decode(headers["Authorization"].removeprefix("Basic ")).decode()
    assert decoded == "audit-console:p%40ss%3Aword" and "p@ss" not in json.dumps(form)


def test_when_the_rfc7636_example_verifier_is_hashed_then_its_published_challenge() -> None:
    assert pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == \
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"  # RFC 7636, appendix B


def test_when_a_started_sign_in_is_older_than_its_ttl_then_bad_state(tmp_path: Path, signer: Signer) -> None:
    login, endpoint, clock = _login(tmp_path, signer)
    cookie, query = _begin(login, endpoint)
    clock.now += LOGIN_TTL_S + 1
    with pytest.raises(SignInRefused) as refused:
        login.complete(cookie, {"state": query["state"], "code": "the-code"})
    assert refused.value.reason == "bad_state" and not endpoint.requests  # the code never left for the provider


def test_when_the_state_is_wrong_then_the_sign_in_is_spent_too(tmp_path: Path, signer: Signer) -> None:
    login, endpoint, _ = _login(tmp_path, signer)
    cookie, query = _begin(login, endpoint)
    with pytest.raises(SignInRefused):
        login.complete(cookie, {"state": "guess", "code": "the-code"})
    with pytest.raises(SignInRefused) as again:  # a guess costs the attacker the sign-in: no second try
        login.complete(cookie, {"state": query["state"], "code": "the-code"})
    assert again.value.reason == "bad_state" and len(login.pending) == 0


@pytest.mark.parametrize(("claims", "reason"), [
    ({"nonce": "another"}, "wrong_nonce"),
    ({"nonce": None}, "wrong_nonce"),
    ({"aud": "another-app"}, "wrong_audience"),
    ({"aud": [CLIENT, "another-app"], "azp": "another-app"}, "wrong_audience"),
    ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "expired"),
    ({"iss": "https://evil.example.test/"}, "wrong_issuer"),
])
def test_when_the_id_token_is_not_for_this_sign_in_then_refused(
    tmp_path: Path, signer: Signer, claims: dict[str, Any], reason: str
) -> None:
    login, endpoint, _ = _login(tmp_path, signer)
    cookie, query = _begin(login, endpoint)
    endpoint.claims = claims  # "nonce": None is a JSON null
    with pytest.raises(TokenRefused) as refused:
        login.complete(cookie, {"state": query["state"], "code": "the-code"})
    assert refused.value.reason == reason


def test_when_the_provider_refuses_or_is_unreachable_then_the_reason_says_which(tmp_path: Path,
                                                                               signer: Signer) -> None:
    login, endpoint, _ = _login(tmp_path, signer)
    cookie, query = _begin(login, endpoint)
    endpoint.status = 400
    with pytest.raises(SignInRefused) as refused:
        login.complete(cookie, {"state": query["state"], "code": "the-code"})
    assert refused.value.reason == "code_rejected"

    def unreachable(url: str, data: Mapping[str, str], headers: Mapping[str, str]) -> tuple[int, bytes]:
        raise ConnectionRefusedError("down")

    login._post = unreachable
    cookie, query = _begin(login, endpoint)
    with pytest.raises(SignInRefused) as down:
        login.complete(cookie, {"state": query["state"], "code": "the-code"})
    assert down.value.reason == "provider_unavailable" and "down" not in down.value.message


def test_when_more_sign_ins_start_than_the_store_holds_then_the_oldest_are_dropped() -> None:
    clock = Clock()
    pending = PendingLogins(clock, max_pending=10)
    first, _ = pending.begin(REDIRECT)
    for _ in range(10):
        clock.now += 1
        pending.begin(REDIRECT)
    assert len(pending) <= 10 and pending.take(first) is None


def test_when_one_address_begins_too_many_sign_ins_then_it_is_refused_and_others_are_not(
    tmp_path: Path, signer: Signer,
) -> None:
    login, _, _ = _login(tmp_path, signer)
    for _ in range(STARTS_PER_MINUTE):
        login.begin("https://gw/console/oidc/callback", "203.0.113.7")
    with pytest.raises(RateLimited) as refused:
        login.begin("https://gw/console/oidc/callback", "203.0.113.7")
    assert refused.value.retry_after is not None and refused.value.retry_after > 0
    login.begin("https://gw/console/oidc/callback", "198.51.100.2")  # another address still begins
    assert len(login.pending) == STARTS_PER_MINUTE + 1  # the refused one holds nothing
