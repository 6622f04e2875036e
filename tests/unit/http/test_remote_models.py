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

import httpx
import numpy as np
import pytest
from litestar.testing import TestClient

from gateway.bootstrap import build_services
from gateway.crypto.keyfiles import init_keys
from gateway.embedding.embedder import FakeEmbedder
from gateway.embedding.engines import EngineClient
from gateway.embedding.fingerprint import PROBES
from gateway.embedding.registry import declared_models
from gateway.embedding.remote import RemoteEmbedder
from gateway.embedding.specs import DEFAULT_MODEL
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
        return httpx.Response(200, json={"data": [{"index": i, "embedding": v.tolist()}
                                                  for i, v in enumerate(vectors)]})


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def remote_app(tmp_path: Path, engine: FakeEngine) -> Iterator[App]:
    shutil.copytree(REPO / "policy", tmp_path / "policy")
    (tmp_path / "policy" / "models.yaml").write_text(models_yaml({REMOTE: URL}, max_batch=4))
    init_keys(tmp_path / "keys")
    settings = load_settings({}, data_dir=tmp_path / "data", keys_dir=tmp_path / "keys",
                             policy_dir=tmp_path / "policy", batch_max_wait_ms=0.0)
    spec = next(s for s in declared_models(tmp_path / "policy")[0] if s.name == REMOTE)
    assert spec.engine is not None
    client = EngineClient(spec.engine, spec.dimension, httpx.MockTransport(engine))
    services = build_services(settings, embedder=FakeEmbedder(DEFAULT_MODEL), detector=FakeDetector(),
                              embedders={REMOTE: RemoteEmbedder(spec, client, deadline_s=2.0)})
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
    assert entry(remote_app, r)["decision"] == "error"
    assert _embed(remote_app, key, {"model": DEFAULT_MODEL.name, "input": "hello"}).status_code == 200


def test_when_the_engine_answers_500_then_502_upstream_error_without_its_words(
    remote_app: App, engine: FakeEngine,
) -> None:
    key = remote_app.key("acme", "svc", "writer")
    engine.mode = "error500"
    r = _embed(remote_app, key, {"model": REMOTE, "input": "secret sentence"})
    assert r.status_code == 502, r.text
    assert r.json()["error"]["code"] == "upstream_error" and "secret sentence" not in r.text


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
    log = services.audit_log
    events = [json.loads(e) for e in log.entries(0, log.size())]
    assert [e["event"] for e in events if e["event"].startswith("model.fingerprint")] == [
        "model.fingerprint_mismatch", "model.fingerprint_restored"]
    mismatch = next(e for e in events if e["event"] == "model.fingerprint_mismatch")
    assert mismatch["model"]["name"] == REMOTE and mismatch["observed_fingerprint"] != mismatch["model"]["fingerprint"]


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
