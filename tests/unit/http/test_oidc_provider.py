"""Against a real OIDC provider made for testing (oidc-provider-mock): discovery names the issuer and key set, the
authorization-code flow issues an ID token, and the gateway accepts it; a token for another client is refused."""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import oidc_provider_mock
import pytest
from litestar.testing import TestClient

from gateway.http.app import create_app
from tests.unit.http.conftest import App, entry, fake_services

CLIENT, REDIRECT = "embedding-gateway", "http://127.0.0.1/callback"
BODY = {"model": "all-MiniLM-L6-v2", "input": "a quarterly report"}


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with oidc_provider_mock.run_server_in_thread() as server:
        yield f"http://localhost:{server.server_port}"


def _id_token(provider: str, sub: str, claims: dict[str, Any], client: str = CLIENT) -> str:
    """Sign in as ``sub`` through the provider's authorization-code flow and return the ID token it issues."""
    assert httpx.put(f"{provider}/users/{sub}", json=claims).status_code == 204
    params = {"client_id": client, "redirect_uri": REDIRECT, "response_type": "code", "scope": "openid",
              "state": "s"}
    redirect = httpx.post(f"{provider}/oauth2/authorize", params=params, data={"sub": sub})
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(redirect.headers["location"]).query)["code"][0]
    token = httpx.post(f"{provider}/oauth2/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "client_id": client,
        "client_secret": "unused"})
    return str(token.json()["id_token"])


@pytest.fixture
def app(tmp_path: Path, provider: str) -> Iterator[App]:
    services = fake_services(tmp_path, oidc_discovery=f"{provider}/.well-known/openid-configuration",
                             oidc_audience=CLIENT)
    with TestClient(create_app(services)) as client:
        yield App(client, services, tmp_path)


def test_when_the_provider_issues_a_token_then_the_gateway_accepts_it(app: App, provider: str) -> None:
    token = _id_token(provider, "alice", {"tenant": "acme", "roles": ["writer"]})
    r = app.client.post("/v1/embeddings", json=BODY, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    e = entry(app, r)
    assert (e["tenant"], e["subject"], e["auth"]) == ("acme", "alice", "oidc")


def test_when_the_token_was_issued_to_another_client_then_it_is_refused(app: App, provider: str) -> None:
    token = _id_token(provider, "bob", {"tenant": "acme", "roles": ["writer"]}, client="another-app")
    r = app.client.post("/v1/embeddings", json=BODY, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and entry(app, r)["reason"] == "wrong_audience"


def test_when_the_token_has_no_tenant_then_it_is_refused(app: App, provider: str) -> None:
    token = _id_token(provider, "carol", {"roles": ["writer"]})
    r = app.client.post("/v1/embeddings", json=BODY, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and entry(app, r)["reason"] == "missing_claim"


@pytest.mark.parametrize("tenant", ["ACME", "Acme", "acme corp"])
def test_when_the_tenant_claim_is_no_valid_tenant_id_then_it_is_refused_naming_the_claim_not_its_value(
        app: App, provider: str, tenant: str) -> None:
    """Regression: a token of tenant "ACME" ran as a tenant beside "acme"; the API keys' rule now applies."""
    token = _id_token(provider, "dora", {"tenant": tenant, "roles": ["writer"]})
    r = app.client.post("/v1/embeddings", json=BODY, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and "invalid claim: tenant" in r.text
    e = entry(app, r)
    assert (e["event"], e["reason"], e["claim"]) == ("auth.failure", "invalid_claim", "tenant")
    assert "tenant" not in e and tenant not in json.dumps(e) and tenant not in r.text
