"""A remote model through the real gateway (real model, real Presidio, real SQLite) in front of a real
OpenAI-compatible engine on loopback that records what it receives (``tests/enginekit.py``).

Blocked inputs never leave, redacted ones leave redacted, vectors come back protected like the in-process model's,
the audit names the remote model, its engine host and its fingerprint; a dead engine gives a quick 503, a refusing
one a 502 in OpenAI's shape; a swapped engine (same weights, other pooling) is taken out of service and restored.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pytest

from gateway.embedding.fingerprint import PROBES
from tests.auditkit import logged_entries
from tests.enginekit import RecordingEngine
from tests.integration.conftest import DOWN_MODEL, REMOTE_MODEL
from tests.integration.server import GatewayProcess

pytestmark = pytest.mark.slow
LOCAL = "all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def key(remote_gateway: GatewayProcess) -> str:
    return remote_gateway.make_key("acme", "alice", "writer")


def post(gw: GatewayProcess, key: str, body: dict[str, Any], path: str = "/v1/embeddings") -> httpx.Response:
    return httpx.post(gw.url + path, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=60)


def sent(engine: RecordingEngine) -> list[str]:
    return engine.texts(exclude=PROBES)


def wait_for(check: Callable[[], bool], timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.25)
    return False


def test_when_a_remote_model_is_named_then_its_vectors_are_protected_like_the_in_process_models(
    remote_gateway: GatewayProcess, key: str, recording_engine: RecordingEngine,
) -> None:
    text = f"quarterly invoices were reconciled {uuid.uuid4().hex[:6]}"
    remote = post(remote_gateway, key, {"model": REMOTE_MODEL, "input": [text]})
    local = post(remote_gateway, key, {"model": LOCAL, "input": [text]})
    assert remote.status_code == 200, remote.text
    assert remote.json()["model"] == REMOTE_MODEL and text in sent(recording_engine)
    a, b = (np.asarray(r.json()["data"][0]["embedding"]) for r in (remote, local))
    # Same weights, same tenant keys, same version: the same keyed transform and noise, so the same vector; a raw
    # (unprotected) engine vector would be far from the protected one.
    assert float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)) > 0.999
    raw = recording_engine.vectors([text])[0]
    assert abs(float(a @ raw / np.linalg.norm(a))) < 0.5


def test_when_the_model_is_omitted_then_the_default_in_process_model_answers(
    remote_gateway: GatewayProcess, key: str,
) -> None:
    r = post(remote_gateway, key, {"input": "no model named"})
    assert r.status_code == 200, r.text
    assert r.json()["model"] == LOCAL


def test_when_the_input_holds_an_ssn_then_it_is_refused_and_nothing_of_it_reaches_the_engine(
    remote_gateway: GatewayProcess, key: str, recording_engine: RecordingEngine,
) -> None:
    before = len(sent(recording_engine))
    r = post(remote_gateway, key, {"model": REMOTE_MODEL, "input": ["fine text", "my SSN is 536-90-4721"]})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "pii_blocked"
    assert len(sent(recording_engine)) == before  # the whole request stopped before anything left
    assert not [t for t in sent(recording_engine) if "4721" in t]


def test_when_a_name_is_redacted_then_the_engine_receives_the_placeholder_and_never_the_name(
    remote_gateway: GatewayProcess, key: str, recording_engine: RecordingEngine,
) -> None:
    r = post(remote_gateway, key, {"model": REMOTE_MODEL,
                                         "input": "Margaret Thornton approved the travel budget on Tuesday."})
    assert r.status_code == 200, r.text
    assert "PERSON" in r.headers["x-gateway-pii"]
    assert "<PERSON> approved the travel budget on Tuesday." in sent(recording_engine)
    assert not [t for t in recording_engine.texts() if "Thornton" in t]


def test_when_a_remote_model_answers_then_the_audit_names_it_its_engine_host_and_its_fingerprint(
    remote_gateway: GatewayProcess, key: str, recording_engine: RecordingEngine,
) -> None:
    r = post(remote_gateway, key, {"model": REMOTE_MODEL, "input": "audit me"})
    assert r.status_code == 200, r.text
    entry = logged_entries(remote_gateway.data_dir)[int(r.headers["x-gateway-audit-index"])]
    model = entry["model"]
    assert model["name"] == REMOTE_MODEL and model["fingerprint"].startswith("probe:v1:")
    assert model["engine"] == {"kind": "openai", "hosts": [f"127.0.0.1:{recording_engine.port}"],
                               "model": "all-MiniLM-L6-v2"}
    registered = [e for e in logged_entries(remote_gateway.data_dir)
                  if e["event"] == "model.register" and e["model"]["name"] == REMOTE_MODEL]
    assert [e["model"]["fingerprint"] for e in registered] == [model["fingerprint"]]  # recorded at registration
    state = json.loads((remote_gateway.data_dir / "models.json").read_text())
    assert state["fingerprints"][f"{REMOTE_MODEL}@1.0.0"] == model["fingerprint"]


def test_when_models_are_listed_then_every_served_model_is_there_with_its_status(
    remote_gateway: GatewayProcess, key: str,
) -> None:
    r = httpx.get(remote_gateway.url + "/v1/models", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert r.status_code == 200, r.text
    by_id = {m["id"]: m for m in r.json()["data"]}
    assert set(by_id) == {LOCAL, REMOTE_MODEL, DOWN_MODEL}
    assert by_id[LOCAL]["default"] and not by_id[REMOTE_MODEL]["default"]
    assert by_id[REMOTE_MODEL]["status"] == "in_service" and by_id[DOWN_MODEL]["status"] == "unverified"
    assert "engine" not in by_id[LOCAL] and by_id[REMOTE_MODEL]["engine"]["kind"] == "openai"


def test_when_a_collection_is_bound_to_the_remote_model_then_ingest_and_search_embed_with_it(
    remote_gateway: GatewayProcess, key: str, recording_engine: RecordingEngine,
) -> None:
    name = f"remote-{uuid.uuid4().hex[:6]}"
    created = post(remote_gateway, key, {"name": name, "model": REMOTE_MODEL}, "/v1/collections")
    assert created.status_code == 201, created.text
    docs = [{"id": "a", "text": "Margaret Thornton wrote that invoices are paid within thirty days."},
            {"id": "b", "text": "The cat sat on the warm windowsill."}]
    stored = post(remote_gateway, key, {"documents": docs}, f"/v1/collections/{name}/documents")
    assert stored.status_code == 200, stored.text
    assert "<PERSON> wrote that invoices are paid within thirty days." in sent(recording_engine)
    assert not [t for t in recording_engine.texts() if "Thornton" in t]
    found = post(remote_gateway, key, {"query": "when are invoices paid", "k": 2}, f"/v1/collections/{name}/search")
    assert found.status_code == 200, found.text
    assert found.json()["results"][0]["document_id"] == "a"
    assert "when are invoices paid" in sent(recording_engine)
    ingest = logged_entries(remote_gateway.data_dir)[int(stored.headers["x-gateway-audit-index"])]
    assert ingest["model"]["name"] == REMOTE_MODEL and ingest["model"]["fingerprint"].startswith("probe:v1:")
    assert ingest["model"]["engine"]["hosts"] == [f"127.0.0.1:{recording_engine.port}"]
    provenance = found.json()["results"][0]["provenance"]["model"]
    assert provenance == {k: ingest["model"][k] for k in ("name", "version", "fingerprint", "engine")}


def test_when_a_models_engine_is_down_then_a_quick_503_with_retry_after_and_the_others_serve(
    remote_gateway: GatewayProcess, key: str,
) -> None:
    started = time.monotonic()
    r = post(remote_gateway, key, {"model": DOWN_MODEL, "input": "anyone there"})
    assert time.monotonic() - started < 2.0
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "model_unavailable" and int(r.headers["retry-after"]) >= 1
    assert post(remote_gateway, key, {"model": REMOTE_MODEL, "input": "still here"}).status_code == 200
    assert post(remote_gateway, key, {"model": LOCAL, "input": "still here"}).status_code == 200


def test_when_the_engine_refuses_then_502_upstream_error_in_openais_shape_without_its_words(
    remote_gateway: GatewayProcess, key: str, recording_engine: RecordingEngine,
) -> None:
    recording_engine.mode = "error500"
    try:
        r = post(remote_gateway, key, {"model": REMOTE_MODEL, "input": "refuse this sentence"})
    finally:
        recording_engine.mode = "ok"
    assert r.status_code == 502, r.text
    error = r.json()["error"]
    assert error["code"] == "upstream_error" and error["type"] == "server_error"
    assert "refuse this sentence" not in r.text


def test_when_the_engine_hangs_up_then_a_quick_503_model_unavailable(
    remote_gateway: GatewayProcess, key: str, recording_engine: RecordingEngine,
) -> None:
    recording_engine.mode = "hangup"
    try:
        started = time.monotonic()
        r = post(remote_gateway, key, {"model": REMOTE_MODEL, "input": "hello?"})
        elapsed = time.monotonic() - started
    finally:
        recording_engine.mode = "ok"
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "model_unavailable" and "retry-after" in r.headers
    assert elapsed < 2.0


def test_when_the_engine_is_swapped_then_the_model_is_taken_out_of_service_and_restored_when_it_matches(
    remote_gateway: GatewayProcess, key: str, recording_engine: RecordingEngine,
) -> None:
    def remote_status() -> int:
        return post(remote_gateway, key, {"model": REMOTE_MODEL, "input": "which model are you"}).status_code

    assert wait_for(lambda: remote_status() == 200)  # the earlier tests' failures have healed
    recording_engine.mode = "cls"  # same weights, first-token pooling
    try:
        assert wait_for(lambda: remote_status() == 503), "the swap was not caught"
        r = post(remote_gateway, key, {"model": REMOTE_MODEL, "input": "which model are you"})
        assert r.json()["error"]["code"] == "model_unavailable" and "retry-after" in r.headers
        assert post(remote_gateway, key, {"model": LOCAL, "input": "the default serves"}).status_code == 200
        mismatch = [e for e in logged_entries(remote_gateway.data_dir) if e["event"] == "model.fingerprint_mismatch"]
        assert [e["model"]["name"] for e in mismatch] == [REMOTE_MODEL]
        assert mismatch[0]["observed_fingerprint"] != mismatch[0]["model"]["fingerprint"]
    finally:
        recording_engine.mode = "ok"
    assert wait_for(lambda: remote_status() == 200), "the model was not restored"
    assert [e["model"]["name"] for e in logged_entries(remote_gateway.data_dir)
            if e["event"] == "model.fingerprint_restored"] == [REMOTE_MODEL]
