"""Traces from the real gateway (real model, real Presidio) to an OTLP/HTTP receiver: at least five stage spans per
request under the caller's trace, and none of the planted values in any exported byte."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.enginekit import RecordingEngine, models_yaml
from tests.integration.server import serving
from tests.otlpkit import Receiver

pytestmark = pytest.mark.slow
PLANTED = ("Margaret Oyelaran-Whitcombe", "536-90-4721", "m.oyelaran@example.org", "GB82WEST12345698765432")


def test_when_the_gateway_traces_then_each_request_has_its_stages_and_no_planted_value(tmp_path: Path) -> None:
    receiver = Receiver()
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_SERVICE_NAME": "gateway-it",
           "OTEL_BSP_SCHEDULE_DELAY": "100"}
    traces = [f"4bf92f3577b34da6a3ce929d0e0e47{i:02d}" for i in range(3)]
    try:
        with serving(tmp_path / "gw", env=env) as gw:
            key = gw.make_key("acme", "svc", "writer")
            texts = [f"Please call {PLANTED[0]} about the renewal, mail {PLANTED[2]}",
                     f"Her SSN is {PLANTED[1]} and IBAN {PLANTED[3]}",
                     "The quarterly settlement report was filed on time."]
            with httpx.Client(base_url=gw.url, timeout=60) as client:
                for trace_id, text in zip(traces, texts, strict=True):
                    client.post("/v1/embeddings", json={"model": "all-MiniLM-L6-v2", "input": text},
                                headers={"Authorization": f"Bearer {key}",
                                         "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})
            deadline = time.monotonic() + 20
            while not all(any(s.trace_id == t and s.name == "audit" for s in receiver.spans) for t in traces):
                assert time.monotonic() < deadline, "spans did not arrive"
                time.sleep(0.2)
    finally:
        receiver.close()
    stages = {"authenticate", "authorize", "normalize", "detect", "decide", "embed", "protect", "audit"}
    for trace_id in traces:
        names = {s.name for s in receiver.spans if s.trace_id == trace_id}
        assert len(names & stages) >= 5, names
    exported = b"".join(receiver.raw)
    for value in PLANTED:
        assert value.encode() not in exported and value.split("@")[0].encode() not in exported


def test_when_a_remote_model_answers_then_the_engine_call_is_a_client_span_and_the_engine_gets_traceparent(
    tmp_path: Path, recording_engine: RecordingEngine,
) -> None:
    receiver = Receiver()
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_SERVICE_NAME": "gateway-it",
           "OTEL_BSP_SCHEDULE_DELAY": "100"}
    trace_id = "5bf92f3577b34da6a3ce929d0e0e4799"

    def declare(policy_dir: Path) -> None:
        (policy_dir / "models.yaml").write_text(models_yaml({"traced-remote": recording_engine.base_url}))

    try:
        with serving(tmp_path / "gw", env=env, edit_policy=declare) as gw:
            key = gw.make_key("acme", "svc", "writer")
            seen = len(recording_engine.headers)
            response = httpx.post(gw.url + "/v1/embeddings", timeout=60,
                                  json={"model": "traced-remote", "input": f"Please call {PLANTED[0]} today"},
                                  headers={"Authorization": f"Bearer {key}",
                                           "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})
            assert response.status_code == 200, response.text
            deadline = time.monotonic() + 20
            while not any(s.trace_id == trace_id and s.name == "audit" for s in receiver.spans):
                assert time.monotonic() < deadline, "spans did not arrive"
                time.sleep(0.2)
    finally:
        receiver.close()
    [engine_span] = [s for s in receiver.spans if s.trace_id == trace_id and s.name == "engine.embed"]
    assert engine_span.kind == 3  # SPAN_KIND_CLIENT
    sent = [h["traceparent"] for h in recording_engine.headers[seen:] if "traceparent" in h]
    assert any(t.split("-")[1] == trace_id for t in sent), sent  # the engine's spans can join the caller's trace
    assert PLANTED[0].encode() not in b"".join(receiver.raw)
