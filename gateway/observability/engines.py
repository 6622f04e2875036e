"""Prometheus metrics of the remote engines: each call's latency and outcome, the texts per call, each URL's circuit
breaker and whether each model is in service. Labels are the model's name and the engine's host (never a path, a
query or a credential)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_BATCH = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)
CIRCUIT_STATES = {"closed": 0, "half_open": 1, "open": 2}

# model name -> {host: circuit state name}; model name -> in service
Circuits = Callable[[], Mapping[str, Mapping[str, str]]]
InService = Callable[[], Mapping[str, bool]]


class EngineMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.seconds = Histogram("gateway_engine_request_duration_seconds",
                                 "Latency of one call to a remote engine, by outcome (ok, down, busy, upstream_error)",
                                 ["model", "host", "outcome"], buckets=_LATENCY, registry=registry)
        self.errors = Counter("gateway_engine_errors", "Failed calls to a remote engine, by outcome",
                              ["model", "host", "outcome"], registry=registry)
        self.batch = Histogram("gateway_engine_batch_size", "Texts sent in one call to a remote engine",
                               ["model", "host"], buckets=_BATCH, registry=registry)
        self._live = _Live()
        registry.register(self._live)

    def observer(self, model: str) -> Callable[[str, float, int, str], None]:
        """An ``EngineClient(observe=...)`` callback for ``model``."""

        def observe(host: str, seconds: float, texts: int, outcome: str) -> None:
            self.seconds.labels(model, host, outcome).observe(seconds)
            self.batch.labels(model, host).observe(texts)
            if outcome != "ok":
                self.errors.labels(model, host, outcome).inc()

        return observe

    def watch(self, circuits: Circuits, in_service: InService) -> None:
        """Read the breakers' and the models' state at scrape time."""
        self._live.circuits, self._live.in_service = circuits, in_service


class _Live(Collector):
    def __init__(self) -> None:
        self.circuits: Circuits = dict
        self.in_service: InService = dict

    def collect(self) -> Iterator[GaugeMetricFamily]:
        circuit = GaugeMetricFamily("gateway_engine_circuit_state",
                                    "Circuit breaker of an engine URL: 0 closed, 1 half-open, 2 open",
                                    labels=["model", "host"])
        for model, hosts in self.circuits().items():
            for host, state in hosts.items():
                circuit.add_metric([model, host], CIRCUIT_STATES.get(state, 2))
        yield circuit
        serving = GaugeMetricFamily("gateway_model_in_service",
                                    "1 while a served model is in service (0: its fingerprint did not match)",
                                    labels=["model"])
        for model, ok in self.in_service().items():
            serving.add_metric([model], 1.0 if ok else 0.0)
        yield serving
