"""Drift measures and the per-collection monitor, on synthetic clustered unit vectors (no model)."""

from __future__ import annotations

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.drift.measure import fit_baseline, measure_window
from gateway.drift.monitor import DriftMonitor
from gateway.drift.repository import MemoryDriftRepository
from gateway.observability.metrics import GatewayMetrics
from gateway.policy.loader import DriftThresholds
from gateway.store.base import Collection
from tests.unit.http.conftest import App, app  # noqa: F401 - the in-process gateway fixture

DIM = 32
C = Collection("acme", "docs", "m", "1.0.0", DIM, "flat", True)


def _domain(seed: int, n: int, rng: np.random.Generator, spread: float = 0.35) -> np.ndarray:
    centers = np.random.default_rng(seed).normal(size=(4, DIM))
    rows = centers[rng.integers(0, 4, n)] + spread * rng.normal(size=(n, DIM))
    unit: np.ndarray = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
    return unit


def _clusters(seed: int, n: int, rng: np.random.Generator, dim: int, k: int, spread: float) -> np.ndarray:
    centers = np.random.default_rng(seed).normal(size=(k, dim))
    rows = centers[rng.integers(0, k, n)] + spread * rng.normal(size=(n, dim))
    unit: np.ndarray = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
    return unit


@pytest.mark.parametrize(("dim", "k", "spread", "size", "clusters"), [(32, 4, 0.35, 128, 4), (384, 12, 0.08, 192, 8)])
def test_when_windows_of_the_same_content_are_measured_then_few_cross_the_outlier_threshold(
    dim: int, k: int, spread: float, size: int, clusters: int,
) -> None:
    # 20 baselines x 5 windows of 64. Against in-sample distances and one k-means start, 15-19% of these windows
    # crossed the default threshold (0.05); a radius from held-out distances keeps them rare.
    shares = []
    for trial in range(20):
        rng = np.random.default_rng(trial)
        baseline = fit_baseline(_clusters(1, size, rng, dim, k, spread), clusters)
        shares += [measure_window(baseline, _clusters(1, 64, rng, dim, k, spread)).outlier_share for _ in range(5)]
    assert float(np.mean(np.array(shares) >= DriftThresholds().outlier_share)) <= 0.08
    assert float(np.mean(shares)) < 0.025  # about the 1% a 99th percentile promises


def _monitor(alerts: list[list[str]], metrics: GatewayMetrics | None = None) -> DriftMonitor:
    return DriftMonitor(MemoryDriftRepository(), lambda t, c: DriftThresholds(), metrics=metrics,
                        on_alert=lambda c, s, crossed, th: alerts.append(crossed), baseline_size=128,
                        window_size=64, clusters=4)


def test_when_windows_come_from_the_same_domain_then_measures_stay_small() -> None:
    rng = np.random.default_rng(0)
    baseline = fit_baseline(_domain(1, 256, rng), k=4)
    stats = measure_window(baseline, _domain(1, 64, rng))
    assert stats.crossed(DriftThresholds()) == []


def test_when_a_window_comes_from_another_domain_then_every_measure_crosses() -> None:
    rng = np.random.default_rng(0)
    baseline = fit_baseline(_domain(1, 256, rng), k=4)
    stats = measure_window(baseline, _domain(2, 64, rng))
    assert stats.crossed(DriftThresholds()) == ["centroid_shift", "mean_distance", "outlier_share"]


def test_when_a_baseline_is_serialized_then_it_reads_back_equal() -> None:
    baseline = fit_baseline(_domain(1, 64, np.random.default_rng(0)), k=4)
    back = type(baseline).from_bytes(baseline.to_bytes(), DIM)
    assert np.allclose(back.centroids, baseline.centroids) and back.count == 64


def test_when_drift_starts_then_the_monitor_alerts_and_sets_the_gauge_only_then() -> None:
    rng = np.random.default_rng(3)
    alerts: list[list[str]] = []
    metrics = GatewayMetrics()
    monitor = _monitor(alerts, metrics)
    monitor.observe(C, _domain(1, 128, rng))
    assert monitor.observe(C, _domain(1, 64, rng))[0].crossed(DriftThresholds()) == []
    assert alerts == []
    monitor.observe(C, _domain(2, 64, rng))
    assert alerts == [["centroid_shift", "mean_distance", "outlier_share"]]
    samples = {(s.name, s.labels["measure"]): s.value
               for f in text_string_to_metric_families(metrics.render().decode())
               if f.name == "gateway_drift_alert" for s in f.samples}
    assert samples[("gateway_drift_alert", "centroid_shift")] == 1.0
    series = monitor.series(C)
    assert [w["alerts"] for w in series["windows"]] == [[], ["centroid_shift", "mean_distance", "outlier_share"]]
    assert series["baseline"]["count"] == 128


def test_when_a_new_baseline_is_asked_for_then_the_new_domain_is_no_longer_drift() -> None:
    rng = np.random.default_rng(4)
    alerts: list[list[str]] = []
    monitor = _monitor(alerts)
    monitor.observe(C, _domain(1, 128, rng))
    monitor.observe(C, _domain(2, 128, rng))
    assert len(alerts) == 2
    monitor.rebaseline(C)
    stats = monitor.observe(C, _domain(2, 64, rng))[0]
    # The domain's centre is the baseline now; the outlier share of 64 vectors against a 128-vector p99 is noisy.
    assert stats.centroid_shift < 0.15 and stats.mean_distance < 0.25


def test_when_another_tenant_asks_for_drift_then_404_and_the_owner_gets_the_series(app: App) -> None:  # noqa: F811
    owner = app.key("acme", "w", "writer")
    other = app.key("globex", "w", "admin")
    assert app.client.post("/v1/collections", json={"name": "docs"}, headers=app.auth(owner)).status_code == 201
    assert app.client.get("/v1/collections/docs/drift", headers=app.auth(other)).status_code == 404
    mine = app.client.get("/v1/collections/docs/drift", headers=app.auth(owner))
    assert mine.status_code == 200
    assert mine.json()["baseline"] is None and mine.json()["thresholds"]["outlier_share"] == 0.05


def test_when_the_monitor_sees_drift_in_the_app_then_drift_alert_is_audited(app: App) -> None:  # noqa: F811
    import json

    assert app.services.observability is not None
    monitor = app.services.observability.drift
    monitor.baseline_size, monitor.window_size = 16, 8
    key = app.key("acme", "w", "writer")
    app.client.post("/v1/collections", json={"name": "docs"}, headers=app.auth(key))
    words = ["alpha beta gamma delta", "beta gamma delta alpha epsilon", "gamma alpha delta beta zeta"]
    same = [{"id": f"a{i}", "text": words[i % 3] + f" item{i % 2}"} for i in range(24)]
    other = [{"id": f"b{i}", "text": f"quarterly revenue bonds yields interest{i} rates{i} equity{i}"}
             for i in range(8)]
    assert app.client.post("/v1/collections/docs/documents", json={"documents": same},
                           headers=app.auth(key)).status_code == 200
    app.client.post("/v1/collections/docs/documents", json={"documents": other}, headers=app.auth(key))
    series = app.client.get("/v1/collections/docs/drift", headers=app.auth(key)).json()
    assert series["windows"][0]["alerts"] == [] and series["windows"][-1]["alerts"]
    log = app.services.audit_log
    events = [json.loads(e) for e in log.entries(0, log.size())]
    assert [e["event"] for e in events].count("drift.alert") == 1
    assert "drift.baseline" in [e["event"] for e in events]
