"""Drift use cases: the series of a collection's drift windows, and a new baseline on demand.

The collection is resolved in the caller's tenant before the role check (the guard's ``collection_param``), so
another tenant's collection is a 404 like everywhere else.
"""

from __future__ import annotations

from gateway.drift.monitor import DriftMonitor
from gateway.errors import Unavailable
from gateway.observability.wiring import Observability
from gateway.pipeline.offload import off_loop
from gateway.pipeline.outcome import Outcome
from gateway.store.base import Collection


def _monitor(observability: Observability | None) -> DriftMonitor:
    if observability is None:
        raise Unavailable("drift monitoring is not enabled on this gateway")
    return observability.drift


async def drift_series(c: Collection, limit: int, *, observability: Observability | None) -> Outcome:
    series = _monitor(observability).series(c, limit)
    return Outcome(series, {"collection": c.name, "count": len(series["windows"]), "view": "drift"})


async def rebaseline(c: Collection, *, observability: Observability | None) -> Outcome:
    monitor = _monitor(observability)
    baseline = await off_loop(True, monitor.rebaseline, c)  # k-means over the sample: never on the loop
    return Outcome({"collection": c.name, "count": baseline.count, "clusters": int(baseline.centroids.shape[0])},
                   {"collection": c.name, "count": baseline.count, "reason": "on_demand",
                    "model": {"name": c.model, "version": c.model_version}})
