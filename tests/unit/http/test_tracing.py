"""OpenTelemetry traces through the in-process app, exported over real OTLP/HTTP to a receiver: one trace per
request continuing the caller's traceparent, the route template and status on it, and no planted value anywhere."""

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

PLANTED = "Jane Plantedname 536-90-4721 jane.planted@example.com"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
# A caller's W3C ``tracestate`` is free text (``ssn=...`` is a valid list member): the SDK copied it onto every
# exported span and into every remote engine call until session 18; only the caller's ``traceparent`` is continued.
PLANTED_STATE = "ssn=536-90-4721,mail=jane.planted@example.com,nm=Jane Plantedname"


@pytest.fixture
def traced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[App, Receiver]]:
    receiver = Receiver()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "gateway-under-test")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
    services = fake_services(tmp_path)
    try:
        with TestClient(create_app(services)) as client:
            yield App(client, services, tmp_path), receiver
    finally:
        tracing.shutdown()
        receiver.close()


def test_when_tracing_is_on_then_each_request_is_a_trace_with_its_route_and_no_planted_value(
    traced: tuple[App, Receiver]
) -> None:
    app, receiver = traced
    key = app.key("acme", "svc", "writer")
    parent = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
    r = app.client.post("/v1/embeddings", json={"model": "all-MiniLM-L6-v2", "input": PLANTED},
                        headers={**app.auth(key), "traceparent": parent, "X-Planted": PLANTED})
    assert r.status_code in (200, 422)
    app.client.get(f"/v1/collections/{PLANTED.replace(' ', '')}", headers=app.auth(key))
    tracing.shutdown()  # flush
    deadline = time.monotonic() + 10
    while len({s.trace_id for s in receiver.spans}) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    requests = [s for s in receiver.spans if s.name == "request"]
    assert len(requests) >= 2
    embed = next(s for s in requests if s.attributes.get("http.route") == "/v1/embeddings")
    assert embed.trace_id == TRACE_ID and embed.parent_id == "00f067aa0ba902b7"
    assert embed.attributes["http.response.status_code"] == r.status_code
    routes = {s.attributes.get("http.route") for s in requests}
    assert any(str(r).startswith("/v1/collections/{") for r in routes), routes
    stages = {s.name for s in receiver.spans if s.trace_id == TRACE_ID}
    assert {"authenticate", "authorize", "normalize", "detect", "decide", "audit"} <= stages, stages
    exported = b"".join(receiver.raw)
    for value in ("Plantedname", "536-90-4721", "jane.planted", "536904721"):
        assert value.encode() not in exported


def test_when_no_endpoint_is_set_then_tracing_stays_off_and_spans_are_free(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    assert not tracing.configure()
    assert tracing.span("detect") is tracing.span("embed")  # one shared no-op context, nothing allocated


def test_when_attributes_are_not_on_the_allow_list_then_they_are_dropped() -> None:
    kept = tracing.safe_attributes({"gateway.count": 3, "gateway.tenant": "acme", "gateway.text": PLANTED,
                                    "gateway.request_id": "x" * 500, "gateway.entities": "US_SSN,PERSON",
                                    "gateway.count_str": "3", "gateway.tokens": True})
    assert kept == {"gateway.count": 3, "gateway.tenant": "acme", "gateway.entities": "US_SSN,PERSON"}


def test_when_a_clean_text_is_embedded_then_its_trace_has_a_span_per_stage(traced: tuple[App, Receiver]) -> None:
    app, receiver = traced
    key = app.key("acme", "svc", "writer")
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    r = app.client.post("/v1/embeddings", json={"model": "all-MiniLM-L6-v2", "input": "a quarterly report"},
                        headers={**app.auth(key), "traceparent": f"00-{trace_id}-b7ad6b7169203331-01"})
    assert r.status_code == 200
    tracing.shutdown()
    spans = [s for s in receiver.spans if s.trace_id == trace_id]
    names = [s.name for s in spans]
    for stage in ("request", "authenticate", "authorize", "normalize", "detect", "decide", "embed", "protect",
                  "audit"):
        assert names.count(stage) == 1, (stage, names)
    request = next(s for s in spans if s.name == "request")
    assert all(s.parent_id for s in spans) and request.attributes["gateway.tenant"] == "acme"
    embed = next(s for s in spans if s.name == "embed")
    assert embed.attributes["gateway.count"] == 1 and embed.attributes["gateway.model"].startswith("all-MiniLM")


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
