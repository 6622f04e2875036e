"""STYLE.md item 6: every route the app serves answers 401 without a key, but an explicit allow-list."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from litestar.routes import HTTPRoute
from litestar.testing import TestClient

from tests.hardening.kit import Gateway, build_gateway

# Public on purpose: probes, the OpenAPI document, Prometheus, the console's sign-in form (and its POST, which
# authenticates the key it is given, audited as auth.failure), and the sign-in through the identity provider (its
# start only redirects there; its callback completes a sign-in bound to the browser, audited as auth.failure when
# refused; both 404 where no provider is configured).
PUBLIC = {
    ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"),
    ("GET", "/console"), ("GET", "/console/"), ("POST", "/console/signin"),
    ("GET", "/console/oidc/start"), ("GET", "/console/oidc/callback"),
}
PUBLIC_PREFIXES = ("/schema",)


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}:]+(:int)?[^}]*\}", lambda m: "1" if m.group(1) else "probe", path)


def _routes(app: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for method in sorted(route.methods - {"OPTIONS", "HEAD"}):
                out.append((str(method), route.path))
    return out


def test_when_any_route_is_called_without_a_key_then_it_answers_401_unless_allow_listed(tmp_path: Path) -> None:
    app, _ = build_gateway(tmp_path)
    routes = _routes(app)
    assert len(routes) >= 15, routes
    unguarded = []
    with TestClient(app) as client:
        for method, path in routes:
            if (method, path) in PUBLIC or path.startswith(PUBLIC_PREFIXES):
                continue
            response = client.request(method, _concrete(path), content=b"{}",
                                      headers={"content-type": "application/json"}, follow_redirects=False)
            # The console answers a missing session by sending the browser to its sign-in form.
            console_redirect = path.startswith("/console") and response.status_code in (303, 401)
            if response.status_code != 401 and not console_redirect:
                unguarded.append((method, path, response.status_code))
    assert not unguarded, f"routes reachable without a key: {unguarded}"


def test_when_a_wrong_key_is_presented_then_guarded_routes_answer_401(
    gateway: tuple[TestClient[Any], Gateway],
) -> None:
    client, _ = gateway
    for method, path in [("POST", "/v1/embeddings"), ("GET", "/v1/collections"), ("GET", "/v1/audit/entries")]:
        response = client.request(method, path, headers={"Authorization": "Bearer " + "x" * 64}, json={})
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
