"""``oidc_discovery`` naming a provider that is down at start, against a real OIDC provider (oidc-provider-mock)
started later on the same port: the gateway starts (API keys serve), tokens get ``provider_unavailable`` and the
console's sign-in says the provider is unavailable, and both work once the provider answers, without a restart.
Before, the start failed: a provider down for a minute stopped every replica that restarted meanwhile."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import oidc_provider_mock
import pytest
from litestar.testing import TestClient

from gateway.auth import discovery
from gateway.http.app import create_app
from tests.integration.server import free_port
from tests.unit.http.conftest import App, entry, fake_services
from tests.unit.http.test_oidc_provider import BODY, CLIENT, _id_token


@pytest.fixture
def port() -> int:
    return free_port()  # free now; the provider binds it later


@pytest.fixture
def app(tmp_path: Path, port: int, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
        ) -> Iterator[App]:
    monkeypatch.setattr(discovery, "UNREAD_RETRY_S", 0.0)  # the test does not wait the 5 s between tries
    with caplog.at_level(logging.WARNING, logger="gateway.auth.discovery"):
        services = fake_services(tmp_path, oidc_discovery=f"http://localhost:{port}/.well-known/openid-configuration",
                                 oidc_audience=CLIENT, oidc_console_client_id="audit-console")
    with TestClient(create_app(services)) as client:
        yield App(client, services, tmp_path)


def test_when_the_provider_is_down_at_start_then_the_gateway_starts_and_tokens_pass_once_it_answers(
    app: App, port: int, caplog: pytest.LogCaptureFixture,
) -> None:
    said = [r.getMessage() for r in caplog.get_records("setup") if r.name == "gateway.auth.discovery"]
    assert any(f"localhost:{port} cannot be read (URLError:ConnectionRefusedError)" in m for m in said), said
    key = app.key("acme", "svc", "writer")
    assert app.client.post("/v1/embeddings", json=BODY, headers=app.auth(key)).status_code == 200
    refused = app.client.post("/v1/embeddings", json=BODY, headers={"Authorization": "Bearer eyJhbGciOiJSUzI1NiJ9."
                                                                    "eyJzdWIiOiJ4In0.c2ln"})
    assert refused.status_code == 401 and entry(app, refused)["reason"] == "provider_unavailable"
    page = app.client.get("/console/oidc/start", follow_redirects=False)
    assert page.status_code == 401 and "identity provider is unavailable" in page.text
    assert (entry(app, page)["reason"], entry(app, page)["what"]) == ("provider_unavailable", "console.signin")

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with oidc_provider_mock.run_server_in_thread(port=port) as server:
        provider = f"http://localhost:{server.server_port}"
        token = _id_token(provider, "alice", {"tenant": "acme", "roles": ["writer"]})
        r = app.client.post("/v1/embeddings", json=BODY, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        assert (entry(app, r)["tenant"], entry(app, r)["auth"]) == ("acme", "oidc")
        start = app.client.get("/console/oidc/start", follow_redirects=False)
        assert start.status_code == 303 and start.headers["location"].startswith(f"{provider}/oauth2/authorize")


def test_when_discovery_names_a_path_without_a_document_then_the_start_fails_naming_the_host_and_why(
    tmp_path: Path, port: int,
) -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with oidc_provider_mock.run_server_in_thread(port=port), pytest.raises(Exception) as info:
        fake_services(tmp_path, oidc_discovery=f"http://localhost:{port}/no-such/openid-configuration",
                      oidc_audience=CLIENT)
    assert str(info.value) == f"cannot read the OIDC discovery document at localhost:{port}: HTTP-404"
