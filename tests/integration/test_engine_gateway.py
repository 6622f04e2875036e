"""The real gateway in front of a real engine: Infinity (``engines`` fixture) behind recording proxies, so every
body that leaves the gateway for the engine is on record.

One gateway for the module serves three remote models, each through its own proxy to the same Infinity:
``infinity-minilm`` (PII, protection, audit), ``infinity-swapped`` (its proxy is retargeted to the CLS-pooled copy
of the same weights: a swap behind an unchanged URL) and ``infinity-down`` (its proxy is closed: a dead engine).
The fingerprints are re-probed every second so the swap is seen within the test. (``test_remote_engine_api.py``
runs the same paths against ``tests/enginekit.RecordingEngine``, ours; this module against an engine we did not
write.)
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import yaml

from gateway.embedding.engines import EngineClient, EngineSpec
from gateway.embedding.fingerprint import PROBES, matches, probe
from tests.auditkit import logged_entries
from tests.integration.conftest import Engines
from tests.integration.server import PII_IN_PROCESS, GatewayProcess, serving
from tests.recordingproxy import RecordingProxy

pytestmark = pytest.mark.slow  # a gateway (model + Presidio) and two Infinity servers
REMOTE, SWAPPED, DOWN = "infinity-minilm", "infinity-swapped", "infinity-down"
LOCAL = "all-MiniLM-L6-v2"  # the gateway's in-process default
SSN = "078-05-1120"


@pytest.fixture(scope="module")
def proxies(engines: Engines) -> Iterator[dict[str, RecordingProxy]]:
    made = {name: RecordingProxy(engines.infinity.url) for name in (REMOTE, SWAPPED, DOWN)}
    yield made
    for proxy in made.values():
        proxy.close()


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, engines: Engines,
       proxies: dict[str, RecordingProxy]) -> Iterator[GatewayProcess]:
    def declare(policy_dir: Path) -> None:
        models = [{"name": name, "version": "1.0.0", "dimension": 384,
                   "engine": {"kind": "openai", "base_url": proxy.url(), "model": engines.infinity.model_id,
                              "timeout_s": 5, "max_batch": 16}}
                  for name, proxy in proxies.items()]
        (policy_dir / "models.yaml").write_text(yaml.safe_dump({"models": models}), "utf-8")

    with serving(Path(tmp_path_factory.mktemp("engine-gateway")), edit_policy=declare,
                 env={**PII_IN_PROCESS, "GATEWAY_ENGINE_PROBE_INTERVAL_S": "1"}) as proc:
        yield proc


@pytest.fixture(scope="module")
def key(gw: GatewayProcess) -> str:
    return gw.make_key("globex", "app", "writer")


def embed(gw: GatewayProcess, key: str, model: str, text: str) -> httpx.Response:
    return httpx.post(gw.url + "/v1/embeddings", json={"model": model, "input": text},
                      headers={"Authorization": f"Bearer {key}"}, timeout=60)


def requests_sent(proxy: RecordingProxy) -> list[str]:
    """The texts that left for the engine, the fingerprint probes aside."""
    return [t for t in proxy.sent_texts() if t not in PROBES]


def test_when_a_request_carries_blocked_pii_then_nothing_of_it_reaches_the_engine(
    gw: GatewayProcess, key: str, proxies: dict[str, RecordingProxy],
) -> None:
    proxy = proxies[REMOTE]
    proxy.clear()
    r = embed(gw, key, REMOTE, f"My SSN is {SSN}, please update my file.")
    assert r.status_code == 422 and r.json()["error"]["code"] == "pii_blocked"
    assert requests_sent(proxy) == []
    assert not any(SSN in t for t in proxy.sent_texts())


def test_when_a_request_carries_redacted_pii_then_the_engine_sees_only_the_placeholders(
    gw: GatewayProcess, key: str, proxies: dict[str, RecordingProxy],
) -> None:
    proxy = proxies[REMOTE]
    proxy.clear()
    r = embed(gw, key, REMOTE, "Write to jane.roe@example.com about Margaret Thornton's travel claim.")
    assert r.status_code == 200, r.text
    sent = requests_sent(proxy)
    assert len(sent) == 1
    assert "jane.roe" not in sent[0] and "Thornton" not in sent[0] and "Margaret" not in sent[0]
    assert "<EMAIL_ADDRESS>" in sent[0] and "<PERSON>" in sent[0] and "travel claim" in sent[0]


def test_when_infinity_answers_then_the_vector_comes_back_protected_as_the_in_process_models_is(
    gw: GatewayProcess, key: str, engines: Engines,
) -> None:
    text = "The committee approved the revised retention schedule for the archive."
    r = embed(gw, key, REMOTE, text)
    assert r.status_code == 200, r.text
    served = np.asarray(r.json()["data"][0]["embedding"], dtype=np.float64)
    local = np.asarray(embed(gw, key, LOCAL, text).json()["data"][0]["embedding"], dtype=np.float64)
    client = EngineClient(EngineSpec(kind="openai", urls=(engines.infinity.url,), model=engines.infinity.model_id),
                          384)
    try:
        raw = client.embed([text])[0].astype(np.float64)
    finally:
        client.close()
    assert abs(float(np.linalg.norm(served)) - 1.0) < 1e-3
    # Same weights, tenant and version: Infinity's vector goes through the same keyed transform and noise as the
    # in-process model's, so the two protected vectors agree; the engine's own vector is far from what is served.
    assert float(served @ local / np.linalg.norm(local)) > 0.999
    assert abs(float(served @ raw / np.linalg.norm(raw))) < 0.5


def test_when_a_remote_model_answers_then_the_audit_entry_names_the_model_its_engine_and_fingerprint(
    gw: GatewayProcess, key: str, engines: Engines, proxies: dict[str, RecordingProxy],
) -> None:
    r = embed(gw, key, REMOTE, "Shipping containers were delayed at the port.")
    assert r.status_code == 200, r.text
    entry = logged_entries(gw.data_dir)[int(r.headers["X-Gateway-Audit-Index"])]
    assert entry["event"] == "embeddings.create"
    model = entry["model"]
    assert model["name"] == REMOTE and model["version"] == "1.0.0"
    assert model["engine"] == {"kind": "openai", "hosts": [f"127.0.0.1:{proxies[REMOTE].port}"],
                               "model": engines.infinity.model_id}
    client = EngineClient(EngineSpec(kind="openai", urls=(engines.infinity.url,), model=engines.infinity.model_id),
                          384)
    try:
        assert matches(model["fingerprint"], probe(client.embed))  # the engine's own, as the gateway recorded it
    finally:
        client.close()
    registered = [e for e in logged_entries(gw.data_dir)
                  if e["event"] == "model.register" and e["model"]["name"] == REMOTE]
    assert registered and registered[0]["model"]["fingerprint"] == model["fingerprint"]


def test_when_an_operator_probes_the_remote_model_then_the_printed_fingerprint_pins_what_was_recorded(
    gw: GatewayProcess, engines: Engines,
) -> None:
    printed = gw.cli("models", "probe", REMOTE).stdout.strip().splitlines()[-1]
    recorded = json.loads((gw.data_dir / "models.json").read_text("utf-8"))["fingerprints"][f"{REMOTE}@1.0.0"]
    assert printed.startswith("probe:v1:") and matches(recorded, printed)
    client = EngineClient(EngineSpec(kind="openai", urls=(engines.infinity_cls.url,),
                                     model=engines.infinity_cls.model_id), 384)
    try:
        assert not matches(printed, probe(client.embed))  # the pin would refuse the CLS-pooled copy
    finally:
        client.close()


def test_when_the_engine_behind_a_models_url_is_swapped_then_the_model_is_taken_out_of_service(
    gw: GatewayProcess, key: str, engines: Engines, proxies: dict[str, RecordingProxy],
) -> None:
    assert embed(gw, key, SWAPPED, "before the swap").status_code == 200
    proxies[SWAPPED].retarget(engines.infinity_cls.url)  # same weights, CLS pooling, same URL and model name
    try:
        deadline, r = time.monotonic() + 20, None
        while time.monotonic() < deadline:
            r = embed(gw, key, SWAPPED, "after the swap")
            if r.status_code != 200:
                break
            time.sleep(0.2)
        assert r is not None and r.status_code == 503, "the swap went unnoticed for 20 s"
        assert r.json()["error"]["code"] == "model_unavailable" and "fingerprint" in r.json()["error"]["message"]
        assert float(r.headers["retry-after"]) >= 1
        mismatch = [e for e in logged_entries(gw.data_dir) if e["event"] == "model.fingerprint_mismatch"]
        assert [e["model"]["name"] for e in mismatch] == [SWAPPED]
        assert not matches(mismatch[0]["model"]["fingerprint"], mismatch[0]["observed_fingerprint"])
        assert embed(gw, key, REMOTE, "the other models keep serving").status_code == 200
    finally:
        proxies[SWAPPED].retarget(engines.infinity.url)


def test_when_a_models_engine_is_down_then_its_requests_get_a_quick_503(
    gw: GatewayProcess, key: str, proxies: dict[str, RecordingProxy],
) -> None:
    assert embed(gw, key, DOWN, "while it is up").status_code == 200
    proxies[DOWN].close()  # nothing listens on its port any more: what a killed engine leaves
    timings = []
    for i in range(3):
        started = time.monotonic()
        r = embed(gw, key, DOWN, f"while it is down {i}")
        timings.append(time.monotonic() - started)
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "model_unavailable" and float(r.headers["retry-after"]) >= 1
    assert max(timings) < 1.0, f"503s took {[round(t, 2) for t in timings]} s"
    assert embed(gw, key, REMOTE, "the other models keep serving").status_code == 200
