"""Content types name their charset once (attack17): Litestar appends "; charset=utf-8" to text types, and the
console, its reports and ``GET /v1/audit/checkpoint`` named it too, so every page came as
``text/html; charset=utf-8; charset=utf-8``."""

from __future__ import annotations

import pytest

from tests.unit.http.console.conftest import App
from tests.unit.http.console.test_console_pages import auditor

EXPECTED = {"/console/entries": "text/html; charset=utf-8", "/console/checkpoint": "text/html; charset=utf-8",
            "/console/report.html": "text/html; charset=utf-8", "/console/report.csv": "text/csv; charset=utf-8",
            "/console/report.json": "application/json",
            "/console/nowhere/../entries/999999": "text/html; charset=utf-8"}


@pytest.mark.parametrize("path", sorted(EXPECTED))
def test_when_a_console_page_is_served_then_its_charset_is_named_once(app: App, path: str) -> None:
    auditor(app)
    r = app.client.get(path)
    assert r.headers["content-type"] == EXPECTED[path], (r.status_code, r.headers["content-type"])


def test_when_the_sign_in_form_and_the_checkpoint_are_served_then_their_charset_is_named_once(app: App) -> None:
    assert app.client.get("/console").headers["content-type"] == "text/html; charset=utf-8"
    key = app.key("acme", "wendy", "writer")
    r = app.client.get("/v1/audit/checkpoint", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200 and r.headers["content-type"] == "text/plain; charset=utf-8"
