"""The console's collection pages: the tenant's collections, and one collection's projection and drift.

Handlers of ``console_guarded`` (session, Casbin ``console read``, audit ``audit.read``): admins and auditors
of the tenant may look. Each parses, calls one use case of ``gateway.pipeline.projection`` (which resolves
the collection in the signed-in principal's tenant, so another tenant's collection is a 404 like everywhere
else, and runs the heavy part off the event loop) and renders.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from gateway.drift.measure import MEASURES
from gateway.drift.projection import parse_windows
from gateway.http.console import plots
from gateway.http.console.flow import ConsoleCall, View
from gateway.http.console.pages import BASE, esc, layout
from gateway.pipeline.projection import (
    CollectionsResult,
    ProjectionRequest,
    ProjectionResult,
    list_collections,
    project_collection,
)


def collections_page(result: CollectionsResult, principal: Any, csrf: str) -> str:
    rows = "".join(
        f"<tr><td><a href='{BASE}/collections/{quote(c.name, safe='')}/projection'>{esc(c.name)}</a></td>"
        f"<td>{esc(c.model)} {esc(c.model_version)}</td><td>{esc(c.index_type)}</td><td>{c.chunk_count}</td>"
        f"<td>{esc(c.created_at[:19])}</td></tr>"
        for c in result.collections
    ) or "<tr><td colspan='5'>This tenant has no collections.</td></tr>"
    body = (
        "<table id='collections'><thead><tr><th>collection</th><th>model</th><th>index</th><th>chunks</th>"
        f"<th>created</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    return layout(f"Collections of {principal.tenant}", body, principal, csrf)


def _drift_section(series: dict[str, Any] | None) -> str:
    if series is None:
        return "<p class='note'>Drift monitoring is not enabled on this gateway.</p>"
    windows = series["windows"]
    if not windows:
        have = "a baseline" if series["baseline"] else f"no baseline yet (it takes {series['baseline_size']} vectors)"
        return f"<p class='note' id='drift-empty'>No drift window has closed: {have}, {series['pending']} pending.</p>"
    charts = "".join(
        f"<h3>{esc(m)} (threshold {series['thresholds'][m]:g})</h3>"
        + plots.line_chart(m, [float(w[m]) for w in windows], float(series["thresholds"][m]))
        for m in MEASURES
    )
    alerts = sum(1 for w in windows if w["alerts"])
    return (
        f"<p>{len(windows)} windows of {series['window_size']} vectors; {alerts} crossed a threshold "
        f"(red points). Dashed red line: the policy's threshold.</p>{charts}"
    )


def projection_page(result: ProjectionResult, principal: Any, csrf: str) -> str:
    """The scatter, its legend, how it was made, then the drift series."""
    c, p, sample, series = result.collection, result.projection, result.sample, result.drift
    if len(p.points) == 0:
        figure = "<p class='note' id='projection-empty'>This collection holds no readable vectors yet.</p>"
    else:
        figure = plots.scatter(p) + plots.legend(p)
    unreadable = f" {sample.unreadable} sampled vectors did not decrypt and are left out." if sample.unreadable else ""
    body = (
        f"<p>Model {esc(c.model)} {esc(c.model_version)}, {p.total} vectors; {len(p.points)} shown "
        f"(evenly spaced in creation order), coloured by time window.{esc(unreadable)}</p>"
        f"<h2>Projection</h2>{figure}"
        f"<p class='note'>First two principal components of the stored (protected) vectors: "
        f"{p.explained[0]:.1%} and {p.explained[1]:.1%} of the variance. No text is shown.</p>"
        f"<h2>Drift</h2>{_drift_section(series)}"
    )
    return layout(f"Collection {c.name}", body, principal, csrf)


async def collections_view(call: ConsoleCall) -> View:
    principal = call.session.principal
    result = await list_collections(call.services.collections.store, principal.tenant)
    return View(collections_page(result, principal, call.session.csrf), audit=result.audit)


async def projection_view(call: ConsoleCall) -> View:
    request = ProjectionRequest(call.session.principal.tenant, str(call.request.path_params["name"]),
                                parse_windows(call.request.query_params.get("windows")))
    obs = call.services.observability
    result = await project_collection(call.services.collections.store, None if obs is None else obs.drift, request)
    return View(projection_page(result, call.session.principal, call.session.csrf), audit=result.audit)
