"""The /schema pages load nothing from outside the gateway: it runs in offline networks and never reaches out.

Regression: ``GET /schema`` served Litestar's Redoc page, which loads its script from cdn.redoc.ly, fonts from
Google and an icon from jsDelivr, so it stayed blank offline (Swagger UI, Elements and RapiDoc did the same).
"""

from __future__ import annotations

import re
from pathlib import Path

from litestar.routes import HTTPRoute
from litestar.testing import TestClient

from tests.hardening.kit import build_gateway

# An absolute URL, or a protocol-relative one in an attribute (src="//cdn...").
_URL = re.compile(r"""https?://([^/\s"'<>)]+)|(?:src|href)\s*=\s*["']//([^/\s"'<>]+)""", re.IGNORECASE)
# What Litestar serves when its documentation sites are enabled; each must be gone or load nothing from outside.
LITESTAR_SITES = ("/schema", "/schema/redoc", "/schema/swagger", "/schema/elements", "/schema/rapidoc")


def outside_hosts(text: str, own_host: str) -> set[str]:
    hosts = {(m.group(1) or m.group(2)).lower() for m in _URL.finditer(text)}
    return {h for h in hosts if h.split(":")[0] != own_host}


def test_when_a_page_loads_a_cdn_script_then_the_check_names_the_host() -> None:
    page = ('<script src="https://cdn.redoc.ly/redoc/latest/bundles/redoc.standalone.js"></script>'
            "<link href='//fonts.googleapis.com/css' rel=stylesheet><a href=\"http://testserver/schema\">x</a>")
    assert outside_hosts(page, "testserver") == {"cdn.redoc.ly", "fonts.googleapis.com"}


def test_when_any_schema_page_is_fetched_then_it_names_no_outside_url(tmp_path: Path) -> None:
    app, _ = build_gateway(tmp_path)
    served = {route.path.replace("{path:str}", "redoc") for route in app.routes
              if isinstance(route, HTTPRoute) and route.path.startswith("/schema")}
    with TestClient(app) as client:
        for path in sorted(served | set(LITESTAR_SITES)):
            response = client.get(path)
            assert not outside_hosts(response.text, "testserver"), path
        index = client.get("/schema")
        assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
        assert 'href="/schema/openapi.json"' in index.text and "/v1/embeddings" in index.text
        for document in ("/schema/openapi.json", "/schema/openapi.yaml"):
            assert client.get(document).status_code == 200, document
