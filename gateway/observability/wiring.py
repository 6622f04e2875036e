"""Metrics and drift monitoring, attached to the services in one call from the composition root.

``attach`` wraps the collection store (store-stage timing and drift observation), points the scrape-time
collector at the batchers and the audit log, and wires drift events into the audit log. See
``docs/observability.md``.
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from audit.backend import AuditLogBackend
from gateway.auditing.auditor import Auditor, AuditSink
from gateway.drift.measure import Baseline, WindowStats
from gateway.drift.monitor import DriftMonitor
from gateway.drift.repository import DriftRepository
from gateway.observability.logs import VettedName
from gateway.observability.metrics import GatewayMetrics
from gateway.observability.store import ObservedStore
from gateway.pipeline.collections import CollectionService
from gateway.policy.loader import DriftThresholds, PolicyHolder
from gateway.store.base import Collection

log = logging.getLogger(__name__)


@dataclass
class Observability:
    metrics: GatewayMetrics
    drift: DriftMonitor


class TimedSink:
    """An audit sink that records, per entry, the time until it is durable (the ``audit`` stage)."""

    def __init__(self, inner: AuditSink, metrics: GatewayMetrics) -> None:
        self._inner = inner
        self._metrics = metrics

    def submit(self, entry: Mapping[str, Any]) -> concurrent.futures.Future[int]:
        started = time.perf_counter()
        future = self._inner.submit(entry)
        future.add_done_callback(lambda _: self._metrics.observe_stage("audit", time.perf_counter() - started))
        return future


def _submit(audit_log: AuditSink, auditor: Auditor, event: str, fields: dict[str, Any]) -> None:
    # Not awaited: it is raised inside a write that is already committed and audited; durable within a commit.
    try:
        audit_log.submit(auditor.entry(event, None, "allow", fields))
    except Exception as exc:
        log.error("could not audit %s: %s", event, type(exc).__name__)


def _depth_of(batcher: Any) -> Callable[[], int]:
    return lambda: int(batcher.queue_depth)


def attach(
    metrics: GatewayMetrics,
    collections: CollectionService,
    drift_repository: DriftRepository,
    policy: PolicyHolder,
    audit_log: AuditLogBackend,
    auditor: Auditor,
    queues: dict[str, Any],
) -> Observability:
    def on_alert(c: Collection, stats: WindowStats, crossed: list[str], thresholds: DriftThresholds) -> None:
        log.warning("drift alert on a collection: %s", VettedName(",".join(crossed)))
        _submit(audit_log, auditor, "drift.alert", {
            "tenant": c.tenant, "collection": c.name, "model": {"name": c.model, "version": c.model_version},
            "measures": stats.as_dict(), "crossed": crossed, "count": stats.count,
            "thresholds": {m: getattr(thresholds, m) for m in crossed},
        })

    def on_baseline(c: Collection, baseline: Baseline, reason: str) -> None:
        _submit(audit_log, auditor, "drift.baseline", {
            "tenant": c.tenant, "collection": c.name, "model": {"name": c.model, "version": c.model_version},
            "count": baseline.count, "clusters": int(baseline.centroids.shape[0]), "reason": reason,
        })

    drift = DriftMonitor(
        drift_repository,
        lambda tenant, name: policy.current().scope(tenant, name).drift,
        metrics=metrics, on_alert=on_alert, on_baseline=on_baseline,
    )
    collections.store = ObservedStore(collections.store, metrics, drift)
    for name, batcher in queues.items():
        metrics.sources.queue_depths[name] = _depth_of(batcher)
    metrics.sources.audit_size = audit_log.size
    metrics.sources.audit_checkpoint = audit_log.latest_checkpoint
    return Observability(metrics, drift)


__all__ = ["GatewayMetrics", "Observability", "TimedSink", "attach"]
