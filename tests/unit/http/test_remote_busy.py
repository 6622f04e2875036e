"""An engine answering 429 to everything (a storm): the gateway retries for the engine's ``timeout_s`` (the retry
budget), then answers 503 ``model_unavailable`` with Retry-After, long before the request's time limit; the engine
call it held is free again. Before, each request was retried until ``request_timeout_s`` (59 s measured with
``timeout_s: 5``)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx
from litestar.testing import TestClient

from gateway.bootstrap import build_services
from gateway.crypto.keyfiles import init_keys
from gateway.embedding.embedder import FakeEmbedder
from gateway.embedding.engines import EngineClient
from gateway.embedding.registry import declared_models
from gateway.embedding.remote import RemoteEmbedder
from gateway.embedding.specs import DEFAULT_MODEL
from gateway.http.app import create_app
from gateway.pii.fake import FakeDetector
from gateway.settings import load_settings
from tests.enginekit import models_yaml
from tests.unit.http.conftest import REPO, App
from tests.unit.http.test_remote_models import REMOTE, URL
from tests.unit.http.test_remote_probe_refused import RefusingEngine

REQUEST_LIMIT_S = 8.0  # the request's deadline, as request_timeout_s gives it; the engine's timeout_s is 1


def test_when_the_engine_answers_429_to_everything_then_503_with_retry_after_within_its_timeout(
    tmp_path: Path,
) -> None:
    shutil.copytree(REPO / "policy", tmp_path / "policy")
    init_keys(tmp_path / "keys")
    (tmp_path / "policy" / "models.yaml").write_text(models_yaml({REMOTE: URL}).replace("timeout_s: 10",
                                                                                           "timeout_s: 1"))
    settings = load_settings({}, data_dir=tmp_path / "data", keys_dir=tmp_path / "keys",
                             policy_dir=tmp_path / "policy", batch_max_wait_ms=0.0)
    spec = next(s for s in declared_models(tmp_path / "policy")[0] if s.name == REMOTE)
    assert spec.engine is not None and spec.engine.timeout_s == 1
    engine = RefusingEngine(0)
    client = EngineClient(spec.engine, spec.dimension, httpx.MockTransport(engine))
    services = build_services(settings, embedder=FakeEmbedder(DEFAULT_MODEL), detector=FakeDetector(),
                              embedders={REMOTE: RemoteEmbedder(spec, client, deadline_s=REQUEST_LIMIT_S)})
    with TestClient(create_app(services)) as test_client:
        app = App(test_client, services, tmp_path)
        headers = app.auth(app.key("acme", "svc", "writer"))
        engine.status = 429  # the storm begins after the model was verified
        started = time.monotonic()
        r = test_client.post("/v1/embeddings", json={"model": REMOTE, "input": "hello"}, headers=headers)
        took = time.monotonic() - started
        assert r.status_code == 503 and r.json()["error"]["code"] == "model_unavailable", r.text
        assert int(r.headers["retry-after"]) >= 1
        assert took < 3.0, f"the 503 took {took:.1f} s (the request's limit is {REQUEST_LIMIT_S:g} s)"
        engine.status = 0  # the storm is over: the next request is served
        assert test_client.post("/v1/embeddings", json={"model": REMOTE, "input": "hello"},
                                headers=headers).status_code == 200
