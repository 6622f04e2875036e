"""The public routes hold the guarded routes' input rules (fixes18a #2, #3).

Before: ``/metrics`` read the first of two ``Authorization`` headers, where the guarded routes refuse several
credentials; and ``/healthz?x=1&x=2``, ``/readyz``, ``/metrics``, ``/schema`` and the console's sign-in form took a
repeated query parameter that every guarded route refuses. Now both are refused and audited, on every public route
(the list is the app's own: a public route added later is covered or this test fails)."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.routes import HTTPRoute

from gateway.http.app import create_app
from gateway.http.params import PUBLIC
from tests.hardening.test_every_route_guarded import PUBLIC as ALLOW_LISTED
from tests.unit.http.conftest import App, fake_services
from tests.uvicornkit import serving_app

TOKEN = "s3cret-scraper-token"


def _added(app: App, before: int) -> list[dict[str, Any]]:
    app.services.auditor.flush()
    log = app.services.audit_log
    return [json.loads(e) for e in log.entries(before, log.size())]


def _public(app: App) -> list[tuple[str, str]]:
    out = []
    for route in app.client.app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if handler.opt.get(PUBLIC):
                out += [(str(m), route.path) for m in sorted(handler.http_methods - {"OPTIONS", "HEAD"})]
    return out


@pytest.mark.parametrize("token", ["", TOKEN])
def test_when_metrics_get_two_authorization_headers_then_401_and_audited(tmp_path: Path, token: str) -> None:
    # A real server: the test client joins repeated headers into one, uvicorn passes each on as sent.
    services = fake_services(tmp_path, metrics_token=token)
    with serving_app(create_app(services)) as port:
        url = f"http://127.0.0.1:{port}/metrics"
        before = services.audit_log.size()
        r = httpx.get(url, headers=[("Authorization", f"Bearer {TOKEN}"), ("Authorization", "Bearer x")], timeout=30)
        assert r.status_code == 401 and b"not several" in r.content
        assert r.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
        deadline = time.monotonic() + 10
        while services.audit_log.size() == before and time.monotonic() < deadline:
            time.sleep(0.05)
        added = [json.loads(e) for e in services.audit_log.entries(before, services.audit_log.size())]
        assert [(e["event"], e.get("reason")) for e in added] == [("auth.failure", "several credentials")]
        assert TOKEN not in json.dumps(added)
        assert httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30).status_code == 200


def test_when_a_metrics_token_is_wrong_then_the_refusal_is_audited(app: App) -> None:
    app.services.settings = dataclasses.replace(app.services.settings, metrics_token=TOKEN)
    before = app.services.audit_log.size()
    assert app.client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert [e["event"] for e in _added(app, before)] == ["auth.failure"]


def test_every_public_route_is_marked_so_and_the_list_is_what_is_expected(app: App) -> None:
    public = set(_public(app))
    assert {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"), ("POST", "/console/signin"),
            ("GET", "/console/oidc/start")} <= public
    assert any(path.startswith("/schema") for _, path in public)
    # The allow-list of routes reachable without a key: each is marked (the callback refuses in its own flow).
    unmarked = ALLOW_LISTED - public - {("GET", "/console/oidc/callback"), ("GET", "/console/")}  # "/console"
    assert not unmarked, unmarked


def test_when_a_public_route_gets_a_repeated_query_parameter_then_400_audited(app: App) -> None:
    routes = _public(app)
    assert len(routes) >= 8, routes
    for method, path in routes:
        concrete = path.replace("{file_name:str}", "openapi.json")
        before = app.services.audit_log.size()
        r = app.client.request(method, concrete + "?x=1&x=2", follow_redirects=False)
        assert r.status_code == 400, (method, path, r.status_code)
        assert "'x' is given 2 times" in r.text, (method, path)
        added = _added(app, before)
        assert [(e["event"], e["status"]) for e in added] == [("request.invalid", 400)], (method, path)
        assert added[0]["request_id"] == r.headers["X-Request-Id"]


@pytest.mark.parametrize("path", ["/healthz?x=1", "/readyz", "/schema/openapi.json?a=1&b=2"])
def test_when_public_parameters_are_given_once_then_they_answer_as_before(app: App, path: str) -> None:
    assert app.client.get(path).status_code == 200
