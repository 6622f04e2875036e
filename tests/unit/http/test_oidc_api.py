"""Bearer JWTs through the guarded request path: accepted with their tenant and roles (groups mapped by Casbin),
refused with 401 and an ``auth.failure`` entry naming the reason, never the token; API keys still work."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from gateway.http.app import create_app
from tests.oidckit import AUDIENCE, ISSUER, Signer, hmac_with_public_key, jwks, unsigned
from tests.unit.http.conftest import App, entry, fake_services

SIGNER = Signer("RS256", "idp-1")
BODY = {"model": "all-MiniLM-L6-v2", "input": "a quarterly report"}


@pytest.fixture
def oidc_app(tmp_path: Path) -> Iterator[App]:
    keyset = tmp_path / "jwks.json"
    keyset.write_text(json.dumps(jwks(SIGNER)))
    services = fake_services(tmp_path, oidc_issuer=ISSUER, oidc_audience=AUDIENCE, oidc_jwks=str(keyset))
    with (tmp_path / "policy" / "policy.csv").open("a") as fh:  # the provider's group, mapped in acme only
        fh.write("g, okta:risk-analysts, reader, acme\n")
    services.authorizer.reload_if_changed()
    with TestClient(create_app(services)) as client:
        yield App(client, services, tmp_path)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_when_a_valid_token_is_presented_then_the_request_runs_as_its_tenant_and_subject(oidc_app: App) -> None:
    r = oidc_app.client.post("/v1/embeddings", json=BODY, headers=_bearer(SIGNER.token()))
    assert r.status_code == 200, r.text
    e = entry(oidc_app, r)
    assert (e["tenant"], e["subject"], e["role"], e["auth"]) == ("acme", "alice@acme", "writer", "oidc")


def test_when_the_token_carries_a_mapped_group_then_it_gets_that_role_in_its_tenant_only(oidc_app: App) -> None:
    reader = SIGNER.token({"roles": ["okta:risk-analysts"]})
    assert oidc_app.client.post("/v1/embeddings", json=BODY, headers=_bearer(reader)).status_code == 200
    writes = oidc_app.client.post("/v1/collections", json={"name": "notes"}, headers=_bearer(reader))
    assert writes.status_code == 403  # a reader may not create collections
    elsewhere = SIGNER.token({"tenant": "globex", "roles": ["okta:risk-analysts"]})
    refused = oidc_app.client.post("/v1/embeddings", json=BODY, headers=_bearer(elsewhere))
    assert refused.status_code == 401 and entry(oidc_app, refused)["reason"] == "no_known_role"


def _claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": ISSUER, "aud": AUDIENCE, "sub": "mallory", "tenant": "acme", "roles": ["admin"], "iat": now,
            "exp": now + 300, **extra}


ATTACKS: dict[str, Callable[[], str]] = {  # minted when the test runs: a token made at import would expire
    "expired": lambda: SIGNER.token({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}),
    "not_yet_valid": lambda: SIGNER.token({"nbf": int(time.time()) + 3600}),
    "wrong_audience": lambda: SIGNER.token({"aud": "another-service"}),
    "wrong_issuer": lambda: SIGNER.token({"iss": "https://evil.example.test/"}),
    "unsupported_algorithm": lambda: unsigned(_claims(), SIGNER.kid),
    "unknown_key": lambda: Signer("RS256", "not-published").token(),
    "missing_claim": lambda: SIGNER.token({"tenant": ""}),
}


@pytest.mark.parametrize("reason", sorted(ATTACKS))
def test_when_an_attack_token_is_presented_then_401_and_an_audited_reason(oidc_app: App, reason: str) -> None:
    token = ATTACKS[reason]()
    r = oidc_app.client.post("/v1/embeddings", json=BODY, headers=_bearer(token))
    assert r.status_code == 401
    e = entry(oidc_app, r)
    assert (e["event"], e["decision"], e["reason"]) == ("auth.failure", "deny", reason)
    raw = json.dumps(e) + r.text
    assert token not in raw and token.split(".")[1] not in raw


def test_when_hs256_is_signed_with_the_public_key_or_claims_are_tampered_then_401(oidc_app: App) -> None:
    confused = hmac_with_public_key(SIGNER, _claims())
    head, _, sig = SIGNER.token().split(".")
    _, body, _ = SIGNER.token({"tenant": "globex"}).split(".")
    for token, reason in ((confused, "unsupported_algorithm"), (f"{head}.{body}.{sig}", "bad_signature")):
        r = oidc_app.client.post("/v1/embeddings", json=BODY, headers=_bearer(token))
        assert r.status_code == 401 and entry(oidc_app, r)["reason"] == reason


def test_when_tokens_are_configured_then_api_keys_still_work(oidc_app: App) -> None:
    key = oidc_app.key("acme", "svc", "writer")
    r = oidc_app.client.post("/v1/embeddings", json=BODY, headers=oidc_app.auth(key))
    assert r.status_code == 200 and "auth" not in entry(oidc_app, r)


def test_when_a_token_of_another_tenant_names_this_tenants_collection_then_404(oidc_app: App) -> None:
    acme = SIGNER.token({"roles": ["admin"]})
    assert oidc_app.client.post("/v1/collections", json={"name": "ledger"}, headers=_bearer(acme)).status_code in (
        200, 201)
    globex = SIGNER.token({"tenant": "globex", "roles": ["admin"]})
    r = oidc_app.client.get("/v1/collections/ledger", headers=_bearer(globex))
    assert r.status_code == 404


def test_when_one_subject_holds_the_same_role_in_two_tenants_then_each_token_works_in_its_own(oidc_app: App) -> None:
    for tenant in ("acme", "globex"):  # the outside attack found the second refused: a binding cached per subject
        token = SIGNER.token({"sub": "gina", "tenant": tenant, "roles": ["writer"]})
        r = oidc_app.client.get("/v1/collections", headers=_bearer(token))
        assert r.status_code == 200, (tenant, r.text)
        assert entry(oidc_app, r)["tenant"] == tenant


def test_when_a_signed_token_is_refused_for_its_age_or_roles_then_its_tenant_is_on_the_entry_a_forged_one_not(
    oidc_app: App,
) -> None:
    # the provider signed these: their tenant's auditors must see a refused token of theirs, as with an API key
    past = {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}
    signed = {
        "acme": SIGNER.token(past),
        "globex": SIGNER.token({"tenant": "globex", "roles": ["okta:risk-analysts"]}),  # no role known in globex
    }
    for tenant, token in signed.items():
        e = entry(oidc_app, oidc_app.client.post("/v1/embeddings", json=BODY, headers=_bearer(token)))
        assert (e["event"], e["tenant"]) == ("auth.failure", tenant), e
    head, _, sig = SIGNER.token(past).split(".")
    _, body, _ = SIGNER.token({**past, "tenant": "globex"}).split(".")
    unsigned_claims = [f"{head}.{body}.{sig}", Signer("RS256", "idp-1").token(past),  # a body or a key not theirs
                       SIGNER.token({**past, "tenant": "acme/../globex"})]  # signed, but no tenant name
    for token in unsigned_claims:
        e = entry(oidc_app, oidc_app.client.post("/v1/embeddings", json=BODY, headers=_bearer(token)))
        assert e["event"] == "auth.failure" and e.get("tenant") is None, e
