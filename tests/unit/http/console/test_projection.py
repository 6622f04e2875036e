"""The console's projection page: the SVG, and the guarded, audited page."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from gateway.drift.projection import project
from gateway.http.console import plots
from tests.unit.drift.test_projection import TIMES, clusters
from tests.unit.http.console.conftest import App
from tests.unit.http.console.test_console_pages import signin


def test_when_the_scatter_is_drawn_then_one_circle_per_point_coloured_by_window_and_no_text() -> None:
    p = project(TIMES, clusters(), windows=4)
    svg = plots.scatter(p)
    assert svg.count("<circle") == 40 and "<text" not in svg and "<title" not in svg
    assert {plots.colour(w) for w in range(4)} == set(re.findall(r"fill='(#[0-9a-f]{6})' fill-opacity", svg))
    legend = plots.legend(p)
    assert legend.count("<li>") == 4 and "(10 points)" in legend


def test_when_a_window_crosses_its_threshold_then_its_point_is_red_and_the_threshold_is_drawn() -> None:
    svg = plots.line_chart("outlier_share", [0.01, 0.02, 0.5], 0.2)
    assert "class='threshold'" in svg and "stroke-dasharray" in svg
    assert svg.count("fill='#b71c1c'/>") == 1 and svg.count("<circle") == 3


# ---- the page, in process (fake model, real SQLite, real Casbin and audit log) ---------------------------


def _ingest(app: App, tenant: str, name: str, n: int) -> None:
    writer = app.key(tenant, "w", "writer")
    r = app.client.post("/v1/collections", json={"name": name, "model": "all-MiniLM-L6-v2"}, headers=app.auth(writer))
    assert r.status_code == 201, r.text
    docs = [{"id": f"d{i}", "text": f"note {i} about topic {i % 3}"} for i in range(n)]
    assert app.client.post(f"/v1/collections/{name}/documents", json={"documents": docs},
                           headers=app.auth(writer)).status_code == 200


def _entry(app: App, r: Any) -> dict[str, Any]:
    index = int(r.headers["X-Gateway-Audit-Index"])
    return dict(json.loads(app.services.audit_log.entries(index, index + 1)[0]))


@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_when_an_auditor_or_admin_opens_a_projection_then_one_point_per_chunk_and_an_audit_entry(
    app: App, role: str
) -> None:
    _ingest(app, "acme", "kb", 12)
    assert signin(app, app.key("acme", "olga", role)).status_code == 303
    listing = app.client.get("/console/collections")
    assert listing.status_code == 200 and "/console/collections/kb/projection" in listing.text
    r = app.client.get("/console/collections/kb/projection?windows=3")
    assert r.status_code == 200, r.text
    svg = r.text.split("<svg id='projection'")[1].split("</svg>")[0]
    assert svg.count("<circle") == 12 and "about topic" not in r.text
    assert r.text.count("points)</li>") == 3
    e = _entry(app, r)
    assert (e["event"], e["decision"], e["what"], e["collection_digest"], e["points"]) == (
        "audit.read", "allow", "console.projection", app.services.auditor.digest("acme", "kb"), 12)


def test_when_the_collection_belongs_to_another_tenant_then_404_and_the_refusal_is_audited(app: App) -> None:
    _ingest(app, "globex", "secret", 3)
    assert signin(app, app.key("acme", "olga", "auditor")).status_code == 303
    r = app.client.get("/console/collections/secret/projection")
    assert r.status_code == 404 and "<circle" not in r.text
    assert (_entry(app, r)["event"], _entry(app, r)["decision"]) == ("audit.read", "deny")


def test_when_not_signed_in_then_the_projection_is_refused(app: App) -> None:
    r = app.client.get("/console/collections/kb/projection", follow_redirects=False)
    assert r.status_code == 401 and "<circle" not in r.text
