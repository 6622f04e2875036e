"""Prometheus metrics of the gateway, in a registry of its own (never the process-global one).

Labels are names only: route templates (``/v1/collections/{name:str}``, never the concrete path), decisions,
status codes, stage and batcher names, entity types and actions, and for drift the tenant and collection name.
No label ever carries input text, a PII value, an API key or a document id. Every metric is listed in
``docs/observability.md`` (a test checks it).

Values that live elsewhere (queue depths, audit log size, checkpoint age) are read at scrape time by a custom
collector from callables, so nothing has to push them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gateway.observability.engines import EngineMetrics
from gateway.observability.threads import CpuByPart

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
STAGES = ("pii", "embed", "noise", "ledger", "usage", "store", "audit")
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)


@dataclass
class LiveSources:
    """Callables read at scrape time; each may be absent (a unit test, a CLI process)."""

    queue_depths: dict[str, Callable[[], int]] = field(default_factory=dict)
    audit_size: Callable[[], int] | None = None
    audit_checkpoint: Callable[[], str | None] | None = None
    worker_pids: Callable[[], list[int]] | None = None  # the PII pool's processes (``CpuByPart``)


class _LiveCollector(Collector):
    """Queue depths, audit log size and checkpoint age, read when Prometheus scrapes."""

    def __init__(self, sources: LiveSources, clock: Callable[[], float]) -> None:
        self._sources = sources
        self._clock = clock
        self._last_note: str | None = None
        self._note_seen_at: float | None = None

    def collect(self) -> Iterable[Metric]:
        depth = GaugeMetricFamily("gateway_queue_depth", "Items waiting in a micro-batcher queue", labels=["queue"])
        for name, read in sorted(self._sources.queue_depths.items()):
            depth.add_metric([name], float(read()))
        yield depth
        if self._sources.audit_size is not None:
            yield GaugeMetricFamily("gateway_audit_log_entries", "Durable entries in the audit log",
                                    value=float(self._sources.audit_size()))
        if self._sources.audit_checkpoint is not None:
            note = self._sources.audit_checkpoint()
            now = self._clock()
            if note != self._last_note:  # a new signed checkpoint since the last scrape
                self._last_note, self._note_seen_at = note, now
            if self._note_seen_at is not None and note is not None:
                yield GaugeMetricFamily(
                    "gateway_audit_checkpoint_age_seconds",
                    "Seconds since the latest signed checkpoint changed (as observed at scrape time)",
                    value=max(0.0, now - self._note_seen_at),
                )


class GatewayMetrics:
    """Every metric the gateway exports; one instance per ``Services``."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.sources = LiveSources()
        self._clock = clock
        r = self.registry
        self.requests = Counter("gateway_requests", "Requests to guarded routes by outcome",
                                ["route", "decision", "status"], registry=r)
        self.request_seconds = Histogram("gateway_request_duration_seconds", "Latency of guarded routes",
                                         ["route"], buckets=_LATENCY_BUCKETS, registry=r)
        self.stage_seconds = Histogram("gateway_stage_duration_seconds", "Latency of one pipeline stage call",
                                       ["stage"], buckets=_LATENCY_BUCKETS, registry=r)
        self.tokens = Counter("gateway_tokens", "Model tokens of the inputs embedded, by tenant and model",
                              ["tenant", "model"], registry=r)
        self.quota_refusals = Counter("gateway_quota_refusals", "Requests refused by a quota, by the limit hit",
                                      ["tenant", "limit", "scope"], registry=r)
        self.pii_entities = Counter("gateway_pii_entities", "PII entities found, by type and the action taken",
                                    ["entity_type", "action"], registry=r)
        self.batch_size = Histogram("gateway_batch_size", "Items per model batch", ["batcher"],
                                    buckets=_BATCH_BUCKETS, registry=r)
        self.drift_value = Gauge("gateway_drift_value", "Latest drift window measure of a collection",
                                 ["tenant", "collection", "measure"], registry=r)
        self.drift_threshold = Gauge("gateway_drift_threshold", "Policy threshold of a drift measure",
                                     ["tenant", "collection", "measure"], registry=r)
        self.drift_alerting = Gauge("gateway_drift_alert", "1 while the latest window crosses a drift threshold",
                                    ["tenant", "collection", "measure"], registry=r)
        self.drift_alerts = Counter("gateway_drift_alerts", "Drift windows that crossed a threshold",
                                    ["tenant", "collection", "measure"], registry=r)
        self.migrated = Counter("gateway_migrated_records", "Records re-embedded by a migration",
                                ["model_version"], registry=r)
        self.witness_refusals = Counter("gateway_audit_witness_refusals", "Checkpoints a witness refused to cosign",
                                        ["witness"], registry=r)
        self.witness_unavailable = Counter("gateway_audit_witness_unavailable",
                                           "Checkpoints a witness could not be asked to cosign", ["witness"],
                                           registry=r)
        self.signing_held = Gauge("gateway_audit_signing_held",
                                  "1 while checkpoint signing is held after a witness refused", registry=r)
        for stage in STAGES:  # present from the start, so dashboards see zeros rather than nothing
            self.stage_seconds.labels(stage)
        r.register(_LiveCollector(self.sources, clock))
        r.register(CpuByPart(lambda: self.sources.worker_pids() if self.sources.worker_pids is not None else []))
        self.engines = EngineMetrics(r)

    def observe_request(self, route: str, decision: str, status: int, seconds: float) -> None:
        self.requests.labels(route, decision, str(status)).inc()
        self.request_seconds.labels(route).observe(seconds)

    def observe_tokens(self, tenant: str, model: str, tokens: int) -> None:
        self.tokens.labels(tenant, model).inc(tokens)

    def observe_quota_refusal(self, tenant: str, limit: str, scope: str) -> None:
        self.quota_refusals.labels(tenant, limit, scope).inc()

    def observe_stage(self, stage: str, seconds: float) -> None:
        self.stage_seconds.labels(stage).observe(seconds)

    @contextmanager
    def stage(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.observe_stage(stage, time.perf_counter() - started)

    def observe_pii(self, summary: Mapping[str, Mapping[str, object]]) -> None:
        """``{entity type: {"count": n, "action": a}}``: the same summary the audit entry holds."""
        for entity_type, outcome in summary.items():
            count = outcome.get("count", 0)
            if isinstance(count, int) and count > 0:
                self.pii_entities.labels(entity_type, str(outcome.get("action", "unknown"))).inc(count)

    def batch_hook(self, batcher: str, stage: str) -> Callable[[int, float], None]:
        """A ``MicroBatcher(on_batch=...)`` callback: batch size and the stage's latency per batch."""

        def on_batch(size: int, seconds: float) -> None:
            self.batch_size.labels(batcher).observe(size)
            self.stage_seconds.labels(stage).observe(seconds)

        return on_batch

    def render(self) -> bytes:
        return generate_latest(self.registry)


def parse_pii_header(value: str) -> dict[str, dict[str, object]]:
    """Read back ``X-Gateway-PII`` (``TYPE=count;action, ...`` or ``none``): types, counts, actions only."""
    out: dict[str, dict[str, object]] = {}
    if not value or value == "none":
        return out
    for part in value.split(","):
        etype, _, rest = part.strip().partition("=")
        count, _, action = rest.partition(";")
        if etype and count.isdigit():
            out[etype] = {"count": int(count), "action": action or "unknown"}
    return out
