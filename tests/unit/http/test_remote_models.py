"""A remote model in the request path, in process (fake engine transport, fake detector, real SQLite, audit log and
Casbin): only screened text leaves, failures map to 503/502 in OpenAI's shape, a fingerprint mismatch takes the
model out of service while the others serve, and concurrent requests coalesce into engine calls of max_batch."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from gateway.bootstrap import Services, build_services
from gateway.crypto.keyfiles import init_keys
from gateway.embedding.embedder import FakeEmbedder
from gateway.embedding.engines import EngineClient
from gateway.embedding.fingerprint import PROBES, probe
from gateway.embedding.registry import declared_models
from gateway.embedding.remote import RemoteEmbedder
from gateway.embedding.specs import DEFAULT_MODEL
from gateway.errors import ModelUnavailable
from gateway.http.app import create_app
from gateway.pii.fake import FakeDetector
from gateway.settings import load_settings
from tests.enginekit import models_yaml
from tests.unit.http.conftest import REPO, App, entry

REMOTE = "remote-fake"
URL = "http://engine-a:8080/v1"


class FakeEngine:
    """The engine behind ``httpx.MockTransport``: the fake model's vectors, or the failure ``mode`` asks for."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.calls: list[list[str]] = []
        self.delay_s = 0.0
        self._model = FakeEmbedder(DEFAULT_MODEL)
        self._lock = threading.Lock()

    def texts(self) -> list[str]:
        return [t for call in self.calls for t in call if t not in PROBES]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        texts = json.loads(request.content)["input"]
        with self._lock:
            self.calls.append(texts)
        time.sleep(self.delay_s)
        if self.mode == "down":
            raise httpx.ConnectError("refused", request=request)
        if self.mode == "error500":
            return httpx.Response(500, json={"error": {"message": f"cannot embed {texts[0]}"}})
        vectors = self._model.encode(texts)
        if self.mode == "swapped":  # another model: the same words land elsewhere
            vectors = np.roll(vectors, 7, axis=1)
        if self.mode == "narrower":  # another model of another dimension behind the same URL
            vectors = vectors[:, :256]
        return httpx.Response(200, json={"data": [{"index": i, "embedding": v.tolist()}
                                                  for i, v in enumerate(vectors)]})


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


def remote_services(root: Path, engine: FakeEngine, fingerprint: str = "", **settings_: Any) -> Services:
    """Services under ``root`` serving the fake model in process and ``REMOTE`` on ``engine``; a second call on the
    same ``root`` is the same gateway restarted."""
    if not (root / "policy").exists():
        shutil.copytree(REPO / "policy", root / "policy")
        init_keys(root / "keys")
    (root / "policy" / "models.yaml").write_text(models_yaml({REMOTE: URL}, max_batch=4, fingerprint=fingerprint))
    settings = load_settings({}, data_dir=root / "data", keys_dir=root / "keys",
                             policy_dir=root / "policy", batch_max_wait_ms=0.0, **settings_)
    spec = next(s for s in declared_models(root / "policy")[0] if s.name == REMOTE)
    assert spec.engine is not None
    client = EngineClient(spec.engine, spec.dimension, httpx.MockTransport(engine))
    return build_services(settings, embedder=FakeEmbedder(DEFAULT_MODEL), detector=FakeDetector(),
                          embedders={REMOTE: RemoteEmbedder(spec, client, deadline_s=2.0)})


def events(services: Services, prefix: str = "model.") -> list[dict[str, Any]]:
    log = services.audit_log
    return [e for e in (json.loads(x) for x in log.entries(0, log.size())) if e["event"].startswith(prefix)]


@pytest.fixture
def remote_app(tmp_path: Path, engine: FakeEngine) -> Iterator[App]:
    services = remote_services(tmp_path, engine)
    with TestClient(create_app(services)) as test_client:
        yield App(test_client, services, tmp_path)


def _embed(app: App, key: str, body: dict[str, object]) -> httpx.Response:
    return app.client.post("/v1/embeddings", json=body, headers=app.auth(key))


def test_when_a_remote_model_is_named_then_only_the_redacted_text_leaves_and_the_audit_names_its_engine(
    remote_app: App, engine: FakeEngine,
) -> None:
    key = remote_app.key("acme", "svc", "writer")
    r = _embed(remote_app, key, {"model": REMOTE, "input": ["Alice Smith pays invoices", "plain words"]})
    assert r.status_code == 200, r.text
    assert r.json()["model"] == REMOTE and len(r.json()["data"][0]["embedding"]) == 384
    assert engine.texts() == ["<PERSON> pays invoices", "plain words"]
    model = entry(remote_app, r)["model"]
    assert model["name"] == REMOTE and model["fingerprint"].startswith("probe:v1:")
    assert model["engine"] == {"kind": "openai", "hosts": ["engine-a:8080"], "model": "all-MiniLM-L6-v2"}


def test_when_an_input_is_blocked_then_nothing_of_the_request_reaches_the_engine(
    remote_app: App, engine: FakeEngine,
) -> None:
    key = remote_app.key("acme", "svc", "writer")
    r = _embed(remote_app, key, {"model": REMOTE, "input": ["fine", "SSN 536-90-4721"]})
    assert r.status_code == 422 and engine.texts() == []


def test_when_the_model_is_omitted_or_unknown_then_the_default_answers_or_404(remote_app: App) -> None:
    key = remote_app.key("acme", "svc", "writer")
    assert _embed(remote_app, key, {"input": "x"}).json()["model"] == DEFAULT_MODEL.name
    unknown = _embed(remote_app, key, {"model": "nope", "input": "x"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"
    listed = remote_app.client.get("/v1/models", headers=remote_app.auth(key)).json()["data"]
    assert {m["id"]: m["default"] for m in listed} == {DEFAULT_MODEL.name: True, REMOTE: False}


def test_when_the_engine_is_down_then_503_model_unavailable_with_retry_after_and_never_a_500(
    remote_app: App, engine: FakeEngine,
) -> None:
    key = remote_app.key("acme", "svc", "writer")
    engine.mode = "down"
    started = time.monotonic()
    r = _embed(remote_app, key, {"model": REMOTE, "input": "hello"})
    assert time.monotonic() - started < 1.0
    assert r.status_code == 503 and r.json()["error"]["code"] == "model_unavailable"
    assert int(r.headers["retry-after"]) >= 1
    audited = entry(remote_app, r)
    assert audited["decision"] == "error" and audited["code"] == "model_unavailable"
    assert audited["model"]["name"] == REMOTE and audited["model"]["engine"]["hosts"] == ["engine-a:8080"]
    assert _embed(remote_app, key, {"model": DEFAULT_MODEL.name, "input": "hello"}).status_code == 200


def test_when_the_engine_answers_500_then_502_upstream_error_without_its_words(
    remote_app: App, engine: FakeEngine,
) -> None:
    key = remote_app.key("acme", "svc", "writer")
    engine.mode = "error500"
    r = _embed(remote_app, key, {"model": REMOTE, "input": "secret sentence"})
    assert r.status_code == 502, r.text
    assert r.json()["error"]["code"] == "upstream_error" and "secret sentence" not in r.text
    assert entry(remote_app, r)["model"]["name"] == REMOTE


def test_when_the_fingerprint_stops_matching_then_the_model_is_out_of_service_until_it_matches_again(
    remote_app: App, engine: FakeEngine,
) -> None:
    key = remote_app.key("acme", "svc", "writer")
    services = remote_app.services
    engine.mode = "swapped"
    services.fingerprints.run_once()
    r = _embed(remote_app, key, {"model": REMOTE, "input": "hello"})
    assert r.status_code == 503 and r.json()["error"]["code"] == "model_unavailable" and "retry-after" in r.headers
    assert _embed(remote_app, key, {"input": "the default still serves"}).status_code == 200
    engine.mode = "ok"
    services.fingerprints.run_once()
    assert _embed(remote_app, key, {"model": REMOTE, "input": "hello"}).status_code == 200
    seen = events(services)
    assert [e["event"] for e in seen if e["event"].startswith("model.fingerprint")] == [
        "model.fingerprint_mismatch", "model.fingerprint_restored"]
    mismatch = next(e for e in seen if e["event"] == "model.fingerprint_mismatch")
    assert mismatch["model"]["name"] == REMOTE and mismatch["observed_fingerprint"] != mismatch["model"]["fingerprint"]


def test_when_the_engine_answers_another_dimension_then_the_probe_takes_the_model_out_of_service(
    remote_app: App, engine: FakeEngine,
) -> None:
    # Regression: the probe read another dimension as "no answer", so the model stayed in service (every request a
    # 502) with no model.fingerprint_mismatch entry: the swap never reached the audit log.
    key = remote_app.key("acme", "svc", "writer")
    services = remote_app.services
    engine.mode = "narrower"
    services.fingerprints.run_once()
    r = _embed(remote_app, key, {"model": REMOTE, "input": "hello"})
    assert r.status_code == 503 and r.json()["error"]["code"] == "model_unavailable"
    (mismatch,) = [e for e in events(services) if e["event"] == "model.fingerprint_mismatch"]
    assert mismatch["observed_fingerprint"] == "dimension:256" and mismatch["model"]["fingerprint"].startswith("probe:")
    engine.mode = "ok"
    services.fingerprints.run_once()
    assert _embed(remote_app, key, {"model": REMOTE, "input": "hello"}).status_code == 200


def test_when_a_new_model_first_answers_another_dimension_then_that_is_never_recorded_as_its_fingerprint(
    tmp_path: Path, engine: FakeEngine,
) -> None:
    engine.mode = "narrower"
    services = remote_services(tmp_path, engine)
    try:
        assert services.models.get(REMOTE).state == "mismatch"
        assert "dimension:" not in (tmp_path / "data" / "models.json").read_text()
        engine.mode = "ok"
        services.fingerprints.run_once()
        assert services.models.get(REMOTE).state == "verified"
        assert services.models.get(REMOTE).fingerprint.startswith("probe:v1:")
    finally:
        services.close()


def test_when_requests_arrive_together_then_engine_calls_coalesce_and_stay_within_max_batch(
    remote_app: App, engine: FakeEngine,
) -> None:
    batcher = remote_app.services.models.get(REMOTE).batcher
    engine.calls.clear()
    engine.delay_s = 0.05

    async def many() -> None:
        await asyncio.gather(*(batcher.submit([f"text {i}"], [1], lane="acme") for i in range(20)))

    asyncio.run(many())
    sizes = [len(c) for c in engine.calls]
    assert sum(sizes) == 20 and max(sizes) <= 4 and len(sizes) < 20


def test_when_the_pinned_fingerprint_does_not_match_at_start_then_the_model_never_serves(
    tmp_path: Path, engine: FakeEngine,
) -> None:
    other = probe(lambda texts: np.roll(FakeEmbedder(DEFAULT_MODEL).encode(texts), 7, axis=1))
    services = remote_services(tmp_path, engine, fingerprint=other)
    try:
        assert not services.models.get(REMOTE).in_service and services.models.default.in_service
        [mismatch] = [e for e in events(services) if e["event"] == "model.fingerprint_mismatch"]
        assert mismatch["model"]["fingerprint"] == other
        with pytest.raises(ModelUnavailable):
            services.models.get(REMOTE).check_available()
    finally:
        services.close()


def test_when_the_gateway_restarts_behind_a_swapped_engine_then_the_recorded_fingerprint_catches_it(
    tmp_path: Path, engine: FakeEngine,
) -> None:
    first = remote_services(tmp_path, engine)
    recorded = first.models.get(REMOTE).fingerprint
    first.close()
    assert json.loads((tmp_path / "data" / "models.json").read_text())["fingerprints"] == {
        f"{REMOTE}@1.0.0": recorded}
    engine.mode = "swapped"
    again = remote_services(tmp_path, engine)
    try:
        assert again.models.get(REMOTE).state == "mismatch"
        assert [e["event"] for e in events(again)][-1] == "model.fingerprint_mismatch"
        assert [e for e in events(again) if e["event"] == "model.register" and e["model"]["name"] == REMOTE] \
            and again.models.get(REMOTE).fingerprint == recorded  # registered once; the record stands
    finally:
        again.close()


def test_when_the_engine_is_down_at_first_start_then_the_model_waits_and_is_recorded_at_its_first_answer(
    tmp_path: Path, engine: FakeEngine,
) -> None:
    engine.mode = "down"
    services = remote_services(tmp_path, engine)
    try:
        model = services.models.get(REMOTE)
        assert model.state == "unverified" and model.fingerprint == ""
        with pytest.raises(ModelUnavailable) as refused:
            model.check_available()
        assert refused.value.retry_after is not None and refused.value.retry_after <= 5
        engine.mode = "ok"
        services.fingerprints.run_once()
        assert model.in_service and model.fingerprint.startswith("probe:v1:")
        assert [e["event"] for e in events(services, "model.fingerprint")] == ["model.fingerprint_recorded"]
    finally:
        services.close()


def test_when_an_engine_is_called_then_its_metrics_show_latency_batch_size_errors_and_circuit(
    remote_app: App, engine: FakeEngine,
) -> None:
    key = remote_app.key("acme", "svc", "writer")
    assert _embed(remote_app, key, {"model": REMOTE, "input": ["a", "b"]}).status_code == 200
    engine.mode = "error500"
    assert _embed(remote_app, key, {"model": REMOTE, "input": "c"}).status_code == 502
    metrics = remote_app.services.observability
    assert metrics is not None
    samples = {(x.name, tuple(sorted(x.labels.items()))): x.value
               for family in text_string_to_metric_families(metrics.metrics.render().decode())
               for x in family.samples}
    where = (("host", "engine-a:8080"), ("model", REMOTE))
    assert samples[("gateway_engine_request_duration_seconds_count", (*where, ("outcome", "ok")))] >= 2  # + probe
    assert samples[("gateway_engine_errors_total", (*where, ("outcome", "upstream_error")))] == 1
    assert samples[("gateway_engine_batch_size_sum", where)] >= 3
    assert samples[("gateway_engine_circuit_state", where)] == 0  # closed: the engine answered
    assert samples[("gateway_model_in_service", (("model", REMOTE),))] == 1


def test_when_the_default_model_is_remote_then_requests_without_a_model_and_collections_use_it(
    tmp_path: Path, engine: FakeEngine,
) -> None:
    services = remote_services(tmp_path, engine, model_name=REMOTE)
    with TestClient(create_app(services)) as client:  # closes the services at its end
        app = App(client, services, tmp_path)
        key = app.key("acme", "svc", "writer")
        r = _embed(app, key, {"input": "Bob pays"})
        assert r.status_code == 200 and r.json()["model"] == REMOTE
        assert client.post("/v1/collections", json={"name": "c"}, headers=app.auth(key)).status_code == 201
        docs = {"documents": [{"id": "d", "text": "Carol files the quarterly report"}]}
        assert client.post("/v1/collections/c/documents", json=docs, headers=app.auth(key)).status_code == 200
        assert engine.texts() == ["<PERSON> pays", "<PERSON> files the quarterly report"]
        assert _embed(app, key, {"model": DEFAULT_MODEL.name, "input": "x"}).json()["model"] == DEFAULT_MODEL.name
