"""Per-collection drift monitoring: a baseline from the first vectors, then measures of each window of new ones.

The store wrapper (``gateway.observability.store``) hands every stored batch of vectors to ``observe``. The
first ``baseline_size`` vectors of a collection fix its baseline (``drift.baseline`` is audited); after that
every ``window_size`` vectors close a window, which is measured against the baseline and kept in the series.
A window crossing a policy threshold calls ``on_alert`` (the gateway audits ``drift.alert``) and sets the
``gateway_drift_alert`` gauge. ``rebaseline`` fixes a new baseline on demand from the most recent vectors.

Buffers (vectors of the open window) live in memory only: a restart starts the open window afresh, while the
baseline and the closed windows are persisted.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from gateway.drift.measure import MEASURES, Baseline, WindowStats, fit_baseline, measure_window
from gateway.drift.repository import DriftRepository, WindowRow
from gateway.errors import Conflict
from gateway.observability.metrics import GatewayMetrics
from gateway.policy.loader import DriftThresholds
from gateway.store.base import Collection

ThresholdsFor = Callable[[str, str], DriftThresholds]
AlertHook = Callable[[Collection, WindowStats, list[str], DriftThresholds], None]
BaselineHook = Callable[[Collection, Baseline, str], None]
_MIN_REBASELINE = 16


@dataclass
class _State:
    baseline: Baseline | None = None
    loaded: bool = False
    pending: list[np.ndarray] = field(default_factory=list)
    recent: deque[np.ndarray] = field(default_factory=deque)


class DriftMonitor:
    def __init__(
        self,
        repo: DriftRepository,
        thresholds_for: ThresholdsFor,
        *,
        metrics: GatewayMetrics | None = None,
        on_alert: AlertHook | None = None,
        on_baseline: BaselineHook | None = None,
        baseline_size: int = 192,
        window_size: int = 64,
        clusters: int = 8,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._repo = repo
        self._thresholds_for = thresholds_for
        self._metrics = metrics
        self._on_alert = on_alert
        self._on_baseline = on_baseline
        self.baseline_size = baseline_size
        self.window_size = window_size
        self._clusters = clusters
        self._clock = clock
        self._states: dict[tuple[str, str], _State] = {}
        self._lock = threading.Lock()

    def observe(self, c: Collection, vectors: np.ndarray) -> list[WindowStats]:
        """Take a stored batch of vectors; returns the windows it closed (usually none)."""
        closed: list[WindowStats] = []
        with self._lock:
            state = self._state(c)
            for row in np.asarray(vectors, dtype=np.float32).reshape(-1, c.dimension):
                state.pending.append(row)
                state.recent.append(row)
                while len(state.recent) > self.baseline_size:
                    state.recent.popleft()
                if state.baseline is None and len(state.pending) >= self.baseline_size:
                    self._fix_baseline(c, state, np.vstack(state.pending), "first_vectors")
                    state.pending.clear()
                elif state.baseline is not None and len(state.pending) >= self.window_size:
                    closed.append(self._close_window(c, state))
        return closed

    def rebaseline(self, c: Collection) -> Baseline:
        """A new baseline from the most recent vectors (after a deliberate change of content)."""
        with self._lock:
            state = self._state(c)
            if len(state.recent) < _MIN_REBASELINE:
                raise Conflict(f"a baseline needs at least {_MIN_REBASELINE} recent vectors; "
                               f"this gateway has seen {len(state.recent)} since it started")
            baseline = self._fix_baseline(c, state, np.vstack(list(state.recent)), "on_demand")
            state.pending.clear()
            return baseline

    def forget(self, c: Collection) -> None:
        with self._lock:
            self._states.pop((c.tenant, c.name), None)
            self._repo.forget(c.tenant, c.name)

    def purge_before(self, c: Collection, cutoff: datetime, *, chunks_purged: bool) -> int:
        """Retention: drop the windows closed before ``cutoff`` and a baseline made before it, or any baseline
        once chunks were purged (it was fitted on the collection's first, oldest vectors). Returns rows dropped."""
        with self._lock:
            purged = self._repo.purge_before(c.tenant, c.name, cutoff.astimezone(UTC).isoformat(),
                                             baseline=chunks_purged)
            if purged or chunks_purged:
                self._states.pop((c.tenant, c.name), None)  # in-memory vectors may be as old: start afresh
        return purged

    def series(self, c: Collection, limit: int = 100) -> dict[str, Any]:
        """What ``GET /v1/collections/{name}/drift`` returns: numbers and times only."""
        with self._lock:
            state = self._state(c)
            info = self._repo.load_baseline(c.tenant, c.name, c.model_version, c.dimension)
            pending = len(state.pending)
        thresholds = self._thresholds_for(c.tenant, c.name)
        baseline = None
        if info is not None:
            b = info.baseline
            baseline = {"created_at": info.created_at, "model_version": info.model_version, "count": b.count,
                        "clusters": int(b.centroids.shape[0]), "mean_distance": round(b.mean_distance, 6),
                        "outlier_radius": round(b.outlier_radius, 6)}
        windows = [{"closed_at": w.closed_at, "count": w.count, "centroid_shift": w.centroid_shift,
                    "mean_distance": w.mean_distance, "outlier_share": w.outlier_share, "alerts": list(w.alerts)}
                   for w in self._repo.windows(c.tenant, c.name, limit)]
        return {
            "collection": c.name, "model_version": c.model_version, "baseline": baseline,
            "baseline_size": self.baseline_size, "window_size": self.window_size, "pending": pending,
            "thresholds": {m: getattr(thresholds, m) for m in MEASURES}, "windows": windows,
        }

    def _state(self, c: Collection) -> _State:
        state = self._states.setdefault((c.tenant, c.name), _State())
        if not state.loaded:
            info = self._repo.load_baseline(c.tenant, c.name, c.model_version, c.dimension)
            state.baseline = None if info is None else info.baseline
            state.loaded = True
        return state

    def _fix_baseline(self, c: Collection, state: _State, vectors: np.ndarray, reason: str) -> Baseline:
        baseline = fit_baseline(vectors, self._clusters)
        self._repo.save_baseline(c.tenant, c.name, c.model_version, baseline, self._now())
        state.baseline = baseline
        if self._on_baseline is not None:
            self._on_baseline(c, baseline, reason)
        return baseline

    def _close_window(self, c: Collection, state: _State) -> WindowStats:
        assert state.baseline is not None
        window = np.vstack(state.pending[: self.window_size])
        del state.pending[: self.window_size]
        stats = measure_window(state.baseline, window)
        thresholds = self._thresholds_for(c.tenant, c.name)
        crossed = stats.crossed(thresholds)
        values = stats.as_dict()
        self._repo.add_window(c.tenant, c.name, WindowRow(self._now(), stats.count, values["centroid_shift"],
                                                          values["mean_distance"], values["outlier_share"],
                                                          tuple(crossed)))
        if self._metrics is not None:
            for m in MEASURES:
                labels = (c.tenant, c.name, m)
                self._metrics.drift_value.labels(*labels).set(values[m])
                self._metrics.drift_threshold.labels(*labels).set(getattr(thresholds, m))
                self._metrics.drift_alerting.labels(*labels).set(1.0 if m in crossed else 0.0)
                if m in crossed:
                    self._metrics.drift_alerts.labels(*labels).inc()
        if crossed and self._on_alert is not None:
            self._on_alert(c, stats, crossed, thresholds)
        return stats

    def _now(self) -> str:
        return self._clock().isoformat(timespec="seconds")
