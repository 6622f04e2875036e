"""Where drift state lives: baselines (encrypted) and the series of window measures (numbers only).

A baseline's centroids are averages of a tenant's embeddings, and averages of embeddings can be inverted
towards text, so they are sealed with the tenant's data key like any stored vector (record id
``__drift_baseline__``). The window series holds nothing but counts and three distances per window.

This module holds the interface and the in-memory stand-in; the SQL implementation is
``gateway.backends.sqlite.drift`` (drift statistics are per host, in the local SQLite file, on either backend).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from gateway.drift.measure import Baseline

BASELINE_RECORD = "__drift_baseline__"


@dataclass(frozen=True)
class WindowRow:
    closed_at: str
    count: int
    centroid_shift: float
    mean_distance: float
    outlier_share: float
    alerts: tuple[str, ...]


@dataclass(frozen=True)
class BaselineInfo:
    baseline: Baseline
    model_version: str
    created_at: str


class DriftRepository(Protocol):
    def load_baseline(self, tenant: str, collection: str, model_version: str, dimension: int
                      ) -> BaselineInfo | None: ...

    def save_baseline(self, tenant: str, collection: str, model_version: str, baseline: Baseline,
                      created_at: str) -> None: ...

    def add_window(self, tenant: str, collection: str, row: WindowRow) -> None: ...

    def windows(self, tenant: str, collection: str, limit: int) -> list[WindowRow]: ...

    def forget(self, tenant: str, collection: str) -> None: ...

    def purge_before(self, tenant: str, collection: str, cutoff: str, *, baseline: bool) -> int:
        """Delete the windows closed before ``cutoff`` (ISO 8601, UTC) and, where ``baseline`` or it was made
        before ``cutoff``, the baseline; returns how many rows went (retention)."""
        ...


class MemoryDriftRepository:
    """In-memory stand-in for unit tests (no encryption: nothing leaves the process)."""

    def __init__(self) -> None:
        self.baselines: dict[tuple[str, str], BaselineInfo] = {}
        self.series: dict[tuple[str, str], list[WindowRow]] = {}

    def load_baseline(self, tenant: str, collection: str, model_version: str, dimension: int
                      ) -> BaselineInfo | None:
        info = self.baselines.get((tenant, collection))
        return info if info is not None and info.model_version == model_version else None

    def save_baseline(self, tenant: str, collection: str, model_version: str, baseline: Baseline,
                      created_at: str) -> None:
        self.baselines[(tenant, collection)] = BaselineInfo(baseline, model_version, created_at)

    def add_window(self, tenant: str, collection: str, row: WindowRow) -> None:
        self.series.setdefault((tenant, collection), []).append(row)

    def windows(self, tenant: str, collection: str, limit: int) -> list[WindowRow]:
        return self.series.get((tenant, collection), [])[-limit:]

    def forget(self, tenant: str, collection: str) -> None:
        self.baselines.pop((tenant, collection), None)
        self.series.pop((tenant, collection), None)

    def purge_before(self, tenant: str, collection: str, cutoff: str, *, baseline: bool) -> int:
        kept = [w for w in self.series.get((tenant, collection), []) if w.closed_at >= cutoff]
        purged = len(self.series.get((tenant, collection), [])) - len(kept)
        self.series[(tenant, collection)] = kept
        info = self.baselines.get((tenant, collection))
        if info is not None and (baseline or info.created_at < cutoff):
            del self.baselines[(tenant, collection)]
            purged += 1
        return purged
