"""Traces from the real gateway (real model, real Presidio) to an OTLP/HTTP receiver: at least five stage spans per
request under the caller's trace, and none of the planted values in any exported byte. The gateway and the receiver
are the session's (``remote_gateway``, shared with test_remote_engine_api): every byte it exported counts."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from tests.enginekit import RecordingEngine
from tests.integration.conftest import REMOTE_MODEL
from tests.integration.server import GatewayProcess
from tests.otlpkit import Receiver

pytestmark = pytest.mark.slow
PLANTED = ("Margaret Oyelaran-Whitcombe", "536-90-4721", "m.oyelaran@example.org", "GB82WEST12345698765432")


@dataclass(frozen=True)
class Traced:
    gw: GatewayProcess
    receiver: Receiver
    key: str


@pytest.fixture(scope="module")
def traced(remote_gateway: GatewayProcess, otlp_receiver: Receiver) -> Traced:
    """The session's ``remote_gateway``, which exports to ``otlp_receiver`` (a gateway of its own cost a start):
    it serves its in-process model and ``REMOTE_MODEL`` on ``recording_engine``."""
    return Traced(remote_gateway, otlp_receiver, remote_gateway.make_key("acme", "svc", "writer"))


def _wait_for(done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 20
    while not done():
        assert time.monotonic() < deadline, "spans did not arrive"
        time.sleep(0.2)


def test_when_the_gateway_traces_then_each_request_has_its_stages_and_no_planted_value(traced: Traced) -> None:
    gw, receiver = traced.gw, traced.receiver
    traces = [f"4bf92f3577b34da6a3ce929d0e0e47{i:02d}" for i in range(3)]
    texts = [f"Please call {PLANTED[0]} about the renewal, mail {PLANTED[2]}",
             f"Her SSN is {PLANTED[1]} and IBAN {PLANTED[3]}",
             "The quarterly settlement report was filed on time."]
    with httpx.Client(base_url=gw.url, timeout=60) as client:
        for trace_id, text in zip(traces, texts, strict=True):
            client.post("/v1/embeddings", json={"model": "all-MiniLM-L6-v2", "input": text},
                        headers={"Authorization": f"Bearer {traced.key}",
                                 "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})
    stages = {"authenticate", "authorize", "normalize", "detect", "decide", "embed", "protect", "audit"}

    def names(trace_id: str) -> set[str]:
        return {s.name for s in list(receiver.spans) if s.trace_id == trace_id}

    _wait_for(lambda: all("audit" in names(t) for t in traces))
    # The gateway keeps running (the next test uses it): wait until the stages are in, asserting the same bound.
    _wait_for(lambda: all(len(names(t) & stages) >= 5 for t in traces))
    exported = b"".join(receiver.raw)
    for value in PLANTED:
        assert value.encode() not in exported and value.split("@")[0].encode() not in exported


def test_when_a_remote_model_answers_then_the_engine_call_is_a_client_span_and_the_engine_gets_traceparent(
    traced: Traced, recording_engine: RecordingEngine,
) -> None:
    gw, receiver = traced.gw, traced.receiver
    trace_id = "5bf92f3577b34da6a3ce929d0e0e4799"
    seen = len(recording_engine.headers)
    response = httpx.post(gw.url + "/v1/embeddings", timeout=60,
                          json={"model": REMOTE_MODEL, "input": f"Please call {PLANTED[0]} today"},
                          headers={"Authorization": f"Bearer {traced.key}",
                                   "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})
    assert response.status_code == 200, response.text
    _wait_for(lambda: any(s.trace_id == trace_id and s.name == "engine.embed" for s in list(receiver.spans)))
    [engine_span] = [s for s in receiver.spans if s.trace_id == trace_id and s.name == "engine.embed"]
    assert engine_span.kind == 3  # SPAN_KIND_CLIENT
    sent = [h["traceparent"] for h in recording_engine.headers[seen:] if "traceparent" in h]
    assert any(t.split("-")[1] == trace_id for t in sent), sent  # the engine's spans can join the caller's trace
    _wait_for(lambda: any(s.trace_id == trace_id and s.name == "audit" for s in list(receiver.spans)))
    assert PLANTED[0].encode() not in b"".join(receiver.raw)
