"""A token's tenant claim is written into every audit entry for ever and onto ``/metrics``: the session 18 outside
attack had a token with ``tenant: 536-90-4721`` (and one with a card number) served as a new tenant. Refused now
as ``invalid_claim`` naming the claim, never its value, as API keys' tenants are refused at creation; an expired
token's tenant is not entered either."""

from __future__ import annotations

import json
import time

import pytest

from gateway.auth.oidc import ClaimNames, JwksCache, TokenRefused, TokenVerifier
from tests.oidckit import AUDIENCE, ISSUER, Signer, jwks


@pytest.fixture(scope="module")
def rsa() -> Signer:
    return Signer("RS256", "rsa-1")


def _verifier(signer: Signer) -> TokenVerifier:
    document = json.dumps(jwks(signer)).encode()
    return TokenVerifier(ISSUER, AUDIENCE, JwksCache("https://idp.example.test/jwks", lambda _: document),
                         ClaimNames())


@pytest.mark.parametrize("tenant", ["536-90-4721", "4111111111111111", "de89370400440532013000"])
def test_when_a_tenant_claim_holds_an_identifier_then_the_token_is_refused_without_it(rsa: Signer,
                                                                                      tenant: str) -> None:
    with pytest.raises(TokenRefused) as refused:
        _verifier(rsa).verify(rsa.token({"tenant": tenant}))
    assert refused.value.reason == "invalid_claim"
    assert tenant not in json.dumps(refused.value.detail) and tenant not in refused.value.message


def test_when_an_expired_token_names_an_identifier_as_tenant_then_the_refusal_carries_no_tenant(rsa: Signer) -> None:
    now = int(time.time())
    with pytest.raises(TokenRefused) as refused:
        _verifier(rsa).verify(rsa.token({"tenant": "536-90-4721", "iat": now - 7200, "nbf": now - 7200,
                                         "exp": now - 3600}))
    assert refused.value.reason == "expired" and "tenant" not in refused.value.detail["audit"]


@pytest.mark.parametrize("tenant", ["acme", "72f988bf-86f1-41af-91ab-2d7cd011db47", "org-2024-11", "acme.com"])
def test_when_a_tenant_claim_is_a_name_or_a_provider_id_then_it_is_served(rsa: Signer, tenant: str) -> None:
    assert _verifier(rsa).verify(rsa.token({"tenant": tenant})).tenant == tenant
