"""A caller's W3C ``tracestate`` is free text (``ssn=536-90-4721`` is a valid list member): the SDK copied it onto
every exported span (and into the headers of every remote engine call). Found by the session 18 outside attack;
only the caller's ``traceparent`` is continued now."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from gateway.http.app import create_app
from gateway.observability import tracing
from tests.otlpkit import Receiver
from tests.unit.http.conftest import App, fake_services

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PLANTED_STATE = "ssn=536-90-4721,mail=jane.planted@example.com,nm=Jane Plantedname"


@pytest.fixture
def traced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[App, Receiver]]:
    receiver = Receiver()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
    services = fake_services(tmp_path)
    try:
        with TestClient(create_app(services)) as client:
            yield App(client, services, tmp_path), receiver
    finally:
        tracing.shutdown()
        receiver.close()


def test_when_a_caller_sends_pii_in_tracestate_then_no_exported_span_carries_it(
    traced: tuple[App, Receiver]
) -> None:
    app, receiver = traced
    key = app.key("acme", "svc", "writer")
    parent = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
    r = app.client.post("/v1/embeddings", json={"input": "a clean text"},
                        headers={**app.auth(key), "traceparent": parent, "tracestate": PLANTED_STATE})
    assert r.status_code == 200
    tracing.shutdown()  # flush
    deadline = time.monotonic() + 10
    while not any(s.name == "request" for s in receiver.spans) and time.monotonic() < deadline:
        time.sleep(0.05)
    request = next(s for s in receiver.spans if s.name == "request")
    assert request.trace_id == TRACE_ID  # the trace is still continued
    exported = b"".join(receiver.raw)
    for value in ("536-90-4721", "jane.planted", "Plantedname"):
        assert value.encode() not in exported


def test_when_a_request_span_is_open_then_an_outgoing_engine_call_carries_no_caller_tracestate(
    traced: tuple[App, Receiver]
) -> None:
    headers = {"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01", "tracestate": PLANTED_STATE}
    outgoing: dict[str, str] = {}
    with tracing.request_span("request", headers):
        tracing.inject(outgoing)
    assert TRACE_ID in outgoing["traceparent"]
    assert "536-90-4721" not in str(outgoing)
