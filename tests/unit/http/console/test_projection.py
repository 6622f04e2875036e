"""The console's projection page: PCA and windows, the SVG, the vector sample, and the guarded, audited page."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gateway.drift.projection import parse_windows, pca_2d, project, split_windows
from gateway.errors import BadRequest, DecryptionFailed
from gateway.http.console import plots
from gateway.store.base import Collection, VectorSample
from gateway.store.sampling import SqlSampler
from tests.unit.http.console.conftest import App
from tests.unit.http.console.test_console_pages import signin
from tests.unit.store import store_kit
from tests.unit.store.store_kit import TEST_SETTINGS, Harness, SQLiteHarness

COLL = Collection("acme", "kb", "m", "1.0.0", 4, "flat", False)
TIMES = [f"2025-01-01T00:00:{i:02d}+00:00" for i in range(40)]


def clusters(seed: int = 7) -> np.ndarray:
    """40 vectors: the first 20 near e0, the last 20 near e1 (so time separates them in the projection)."""
    rng = np.random.default_rng(seed)
    base = np.zeros((40, 4))
    base[:20, 0], base[20:, 1] = 1.0, 1.0
    return np.asarray(base + rng.normal(0, 0.05, base.shape), dtype=np.float32)


def test_when_two_periods_differ_then_the_first_axis_separates_their_windows() -> None:
    p = project(TIMES, clusters(), windows=2)
    assert [w.count for w in p.windows] == [20, 20] and p.total == 40
    first, second = p.points[p.window_of == 0, 0], p.points[p.window_of == 1, 0]
    assert first.max() < second.min() or second.max() < first.min()
    assert p.explained[0] > 0.8 and 0 <= p.explained[1] <= 1 - p.explained[0] + 1e-9


def test_when_projected_twice_or_with_flipped_data_then_the_drawing_is_the_same() -> None:
    a, _ = pca_2d(clusters())
    b, _ = pca_2d(clusters())
    c, _ = pca_2d(-clusters())  # the same cloud mirrored: the sign convention draws it the same way up to that
    assert np.allclose(a, b)
    assert np.allclose(np.abs(a), np.abs(c), atol=1e-5)


def test_when_times_arrive_unordered_then_windows_follow_creation_time() -> None:
    times = ["2025-01-03", "2025-01-01", "2025-01-04", "2025-01-02"]
    window_of, windows = split_windows(times, 2)
    assert list(window_of) == [1, 0, 1, 0]
    assert [(w.start, w.end, w.count) for w in windows] == [("2025-01-01", "2025-01-02", 2),
                                                            ("2025-01-03", "2025-01-04", 2)]


def test_when_there_are_fewer_points_than_windows_or_none_then_no_empty_window_and_no_error() -> None:
    assert len(project(TIMES[:3], clusters()[:3], windows=5).windows) == 3
    empty = project([], np.zeros((0, 4), dtype=np.float32))
    assert empty.points.shape == (0, 2) and empty.windows == []
    flat = project(TIMES[:5], np.ones((5, 4), dtype=np.float32))
    assert np.allclose(flat.points, 0) and flat.explained == (0.0, 0.0)


@pytest.mark.parametrize("raw", ["1", "9", "x", "-3", "2.5"])
def test_when_windows_is_out_of_range_then_400(raw: str) -> None:
    with pytest.raises(BadRequest):
        parse_windows(raw)


def test_when_windows_is_absent_then_the_default() -> None:
    assert parse_windows(None) == 5 and parse_windows("6") == 6


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


class FakeCodec:
    def __init__(self, bad: set[str]) -> None:
        self.bad = bad

    def open_vector(self, c: Collection, record_id: str, blob: bytes) -> np.ndarray:
        if record_id in self.bad:
            raise DecryptionFailed()
        return np.frombuffer(blob, dtype=np.float32)


class FakeQuery:
    """Answers the count, then the sample; records the parameters it was asked with."""

    def __init__(self, total: int, rows: list[tuple[str, str, bytes]]) -> None:
        self.total, self.rows = total, rows
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __call__(self, sql: str, params: tuple[Any, ...]) -> Sequence[Sequence[Any]]:
        self.calls.append((sql, params))
        return [(self.total,)] if sql.startswith("SELECT count") else self.rows


def test_when_a_collection_is_larger_than_the_cap_then_every_nth_chunk_is_sampled_and_bad_ones_skipped() -> None:
    vec = np.ones(4, dtype=np.float32).tobytes()
    query = FakeQuery(12_001, [("r1", "t1", vec), ("r2", "t2", vec), ("r3", "t3", vec)])
    sample = SqlSampler(query, FakeCodec({"r2"}), "?").sample(COLL, 5000)
    assert query.calls[1][1] == ("acme", "kb", 3, 5000)  # ceil(12001 / 5000) = 3, tenant always named
    assert all("tenant = ?" in sql for sql, _ in query.calls)
    assert sample == VectorSample(["t1", "t3"], sample.vectors, 12_001, 1) and sample.vectors.shape == (2, 4)


def test_when_a_collection_is_empty_then_no_sample_query_at_all() -> None:
    query = FakeQuery(0, [])
    sample = SqlSampler(query, FakeCodec(set()), "%s").sample(COLL, 5000)
    assert len(query.calls) == 1 and sample.vectors.shape == (0, 4) and sample.total == 0


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_when_sampled_from_a_real_backend_then_every_nth_vector_opens_with_its_time_and_tampered_ones_are_skipped(
    backend: str, tmp_path: Path
) -> None:
    harness: Harness
    if backend == "sqlite":
        harness = SQLiteHarness(tmp_path / "data")
    else:
        from tests.unit.backends.postgres.pgkit import PostgresHarness

        harness = PostgresHarness(TEST_SETTINGS)
    try:
        c = harness.store.create_collection(store_kit.collection())
        vectors = store_kit.unit_vectors(10)
        ids = harness.store.put(c.tenant, c.name, store_kit.chunks_for(vectors), None)
        harness.tamper(ids[4], "vector")
        harness.store.create_collection(store_kit.collection("tenant-b"))  # same name, another tenant: not mixed in
        harness.store.put("tenant-b", c.name, store_kit.chunks_for(store_kit.unit_vectors(3, seed=5)), None)
        sample = harness.store.sample_vectors(c.tenant, c.name, 4)  # 10 chunks, cap 4: every 3rd (0, 3, 6, 9)
        assert sample.total == 10 and sample.unreadable == 0
        assert np.allclose(sample.vectors, vectors[[0, 3, 6, 9]])
        assert len(sample.created_at) == 4 and sample.created_at == sorted(sample.created_at)
        every = harness.store.sample_vectors(c.tenant, c.name, 100)
        assert every.unreadable == 1 and len(every.created_at) == 9  # the tampered 5th is left out
    finally:
        harness.close()


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
