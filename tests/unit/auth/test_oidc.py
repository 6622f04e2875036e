"""Bearer JWTs: a valid token gives its identity; each attack of the catalogue is refused with its one-word reason."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from gateway.auth.oidc import REFETCH_INTERVAL_S, ClaimNames, Identity, JwksCache, TokenRefused, TokenVerifier
from gateway.errors import ConfigurationError
from tests.oidckit import AUDIENCE, ISSUER, Signer, hmac_with_public_key, jwks, unsigned


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Provider:
    """A JWKS document served through a counting fetch: what the provider publishes can change."""

    def __init__(self, *signers: Signer) -> None:
        self.document = jwks(*signers)
        self.fetches = 0

    def fetch(self, url: str) -> bytes:
        assert url == "https://idp.example.test/jwks"
        self.fetches += 1
        return json.dumps(self.document).encode()


@pytest.fixture(scope="module")
def rsa() -> Signer:
    return Signer("RS256", "rsa-1")


def _verifier(provider: Provider, clock: Clock | None = None, **claims: str) -> TokenVerifier:
    cache = JwksCache("https://idp.example.test/jwks", provider.fetch, clock or Clock())
    return TokenVerifier(ISSUER, AUDIENCE, cache, ClaimNames(**claims))


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_when_a_valid_token_is_presented_then_its_tenant_subject_and_roles_are_the_identity(alg: str) -> None:
    signer = Signer(alg, f"{alg}-1")
    identity = _verifier(Provider(signer)).verify(signer.token({"roles": ["writer", "okta:risk-analysts"]}))
    assert identity == Identity("acme", "alice@acme", ("writer", "okta:risk-analysts"))


def test_when_claim_names_are_configured_then_they_are_read(rsa: Signer) -> None:
    token = rsa.token({"org": "globex", "email": "bob@globex", "groups": "analysts"})
    identity = _verifier(Provider(rsa), tenant="org", subject="email", roles="groups").verify(token)
    assert identity == Identity("globex", "bob@globex", ("analysts",))


def _refused(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(TokenRefused) as info:
        verifier.verify(token)
    assert (not token or token not in str(info.value)) and "alice" not in str(info.value)
    return info.value.reason


@pytest.mark.parametrize(("claims", "reason"), [
    ({"exp": int(time.time()) - 3600}, "expired"),
    ({"nbf": int(time.time()) + 3600}, "not_yet_valid"),
    ({"iat": int(time.time()) + 3600}, "not_yet_valid"),
    ({"aud": "another-service"}, "wrong_audience"),
    ({"iss": "https://evil.example.test/"}, "wrong_issuer"),
    ({"tenant": None}, "missing_claim"),
    ({"tenant": ""}, "missing_claim"),
    ({"sub": 42}, "malformed"),
    ({"roles": {"admin": True}}, "malformed"),
    ({"exp": None}, "missing_claim"),
])
def test_when_a_claim_is_wrong_then_the_token_is_refused_with_its_reason(
    rsa: Signer, claims: dict[str, Any], reason: str
) -> None:
    body = {k: v for k, v in claims.items() if v is not None}
    token = rsa.token(body)
    if None in claims.values():  # drop the claim altogether
        import jwt

        payload = jwt.decode(token, options={"verify_signature": False})
        for k, v in claims.items():
            if v is None:
                payload.pop(k, None)
        token = jwt.encode(payload, rsa.key, algorithm="RS256", headers={"kid": rsa.kid})
    assert _refused(_verifier(Provider(rsa)), token) == reason


def test_when_alg_is_none_then_the_token_is_refused(rsa: Signer) -> None:
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "tenant": "acme", "exp": int(time.time()) + 60}
    assert _refused(_verifier(Provider(rsa)), unsigned(claims, rsa.kid)) == "unsupported_algorithm"


def test_when_hs256_is_signed_with_the_public_key_then_the_token_is_refused(rsa: Signer) -> None:
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "tenant": "acme", "iat": int(time.time()),
              "exp": int(time.time()) + 60}
    assert _refused(_verifier(Provider(rsa)), hmac_with_public_key(rsa, claims)) == "unsupported_algorithm"


def test_when_the_header_names_an_algorithm_of_another_key_type_then_the_token_is_refused(rsa: Signer) -> None:
    ec = Signer("ES256", "ec-1")
    forged = ec.token(kid=rsa.kid)  # an EC signature presented under the RSA key's kid
    assert _refused(_verifier(Provider(rsa, ec)), forged) == "unsupported_algorithm"


def test_when_claims_are_tampered_then_the_signature_fails(rsa: Signer) -> None:
    head, body, sig = rsa.token().split(".")
    import base64

    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims["tenant"] = "globex"
    forged_body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert _refused(_verifier(Provider(rsa)), f"{head}.{forged_body}.{sig}") == "bad_signature"


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "x" * 20000, "eyJhbGciOiJSUzI1NiJ9.e30"])
def test_when_the_token_is_garbage_then_it_is_malformed(rsa: Signer, token: str) -> None:
    assert _refused(_verifier(Provider(rsa)), token) in ("malformed", "unknown_key")


def test_when_the_provider_rotates_its_key_then_the_new_kid_is_fetched_once_without_restart(rsa: Signer) -> None:
    provider, clock = Provider(rsa), Clock()
    verifier = _verifier(provider, clock)
    new = Signer("RS256", "rsa-2")
    assert _refused(verifier, new.token()) == "unknown_key"  # not published yet; within the refetch interval
    assert provider.fetches == 1
    provider.document = jwks(rsa, new)
    clock.now += REFETCH_INTERVAL_S
    assert verifier.verify(new.token()).tenant == "acme"
    assert provider.fetches == 2


def test_when_unknown_kids_flood_then_the_key_set_is_fetched_at_most_once_per_interval(rsa: Signer) -> None:
    provider, clock = Provider(rsa), Clock()
    verifier = _verifier(provider, clock)
    for n in range(50):
        _refused(verifier, Signer("ES256", f"made-up-{n}").token())
        clock.now += 1
    assert provider.fetches <= 1 + 50 // int(REFETCH_INTERVAL_S) + 1


def test_when_the_key_set_is_a_file_then_it_is_read_and_hmac_keys_in_it_are_ignored(
    tmp_path: Path, rsa: Signer
) -> None:
    doc = jwks(rsa)
    doc["keys"].append({"kty": "oct", "kid": "shared", "k": "c2VjcmV0", "alg": "HS256"})
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(doc))
    verifier = TokenVerifier(ISSUER, AUDIENCE, JwksCache(str(path)))
    assert verifier.verify(rsa.token()).subject == "alice@acme"
    hs = hmac_with_public_key(rsa, {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "tenant": "acme"})
    assert _refused(verifier, hs.replace(rsa.kid, "shared")) == "unsupported_algorithm"


def test_when_the_key_set_cannot_be_read_at_start_then_configuration_fails(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="OIDC key set"):
        JwksCache(str(tmp_path / "missing.json"))


@pytest.mark.parametrize(("dropped", "claim"), [("tenant", "tenant"), ("sub", "sub"), ("exp", "exp")])
def test_when_a_required_claim_is_missing_then_the_refusal_names_it(rsa: Signer, dropped: str, claim: str) -> None:
    import jwt

    payload = jwt.decode(rsa.token({}), options={"verify_signature": False})
    payload.pop(dropped)
    token = jwt.encode(payload, rsa.key, algorithm="RS256", headers={"kid": rsa.kid})
    with pytest.raises(TokenRefused) as info:
        _verifier(Provider(rsa)).verify(token)
    assert info.value.reason == "missing_claim"
    assert info.value.message == f"the bearer token was refused (missing claim: {claim})"
    assert info.value.detail["audit"] == {"reason": "missing_claim", "claim": claim}
