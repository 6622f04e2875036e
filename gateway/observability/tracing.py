"""OpenTelemetry traces: one trace per request, a span per stage, the engine call as a client span.

On when the standard ``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set (OTLP over
HTTP/protobuf; ``OTEL_SERVICE_NAME``, ``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_EXPORTER_OTLP_TIMEOUT`` and the
batch span processor's ``OTEL_BSP_*`` variables are honoured by the SDK itself). Off, ``span()`` hands back one
shared no-op context: nothing is allocated per request.

What a span may carry is closed: numbers under the names in ``NUMBER_ATTRIBUTES``, and strings under the names in
``STRING_ATTRIBUTES`` (ids, routes, entity types, decisions), at most 128 characters. Anything else
is dropped where the span is made, so no text, metadata value or credential can reach a trace by mistake.
A caller's W3C ``traceparent`` is continued (its ``tracestate`` is not: free text); the engine call carries ours to
remote engines.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

from gateway.errors import ConfigurationError

STRING_ATTRIBUTES = frozenset({
    "gateway.request_id", "gateway.tenant", "gateway.route", "gateway.decision", "gateway.entities",
    "gateway.model", "gateway.engine.host", "gateway.stage", "gateway.code", "http.request.method", "http.route",
    "error.type",
})
NUMBER_ATTRIBUTES = frozenset({
    "gateway.count", "gateway.tokens", "gateway.blocked", "gateway.redacted", "gateway.batch_size",
    "gateway.audit_index", "gateway.chunks", "http.response.status_code",
})
ATTRIBUTES = STRING_ATTRIBUTES | NUMBER_ATTRIBUTES
MAX_STRING = 128

_tracer: Any = None
_provider: Any = None
_propagator: Any = None
_NOOP = contextlib.nullcontext()


def enabled() -> bool:
    return _tracer is not None


def configure(environ: Mapping[str, str] | None = None) -> bool:
    """Start exporting when the OTLP endpoint variables ask for it; returns whether tracing is on."""
    global _tracer, _provider, _propagator
    env = os.environ if environ is None else environ
    if not (env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
        return False
    protocol = env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
    if protocol not in (None, "", "http/protobuf"):
        raise ConfigurationError("OTEL_EXPORTER_OTLP_PROTOCOL: the gateway exports traces over http/protobuf only")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    resource = Resource.create({"service.name": env.get("OTEL_SERVICE_NAME") or "embedding-gateway"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    # Our own provider, not the process-global one: nothing else in the process exports through it.
    _tracer, _provider, _propagator = provider.get_tracer("gateway"), provider, TraceContextTextMapPropagator()
    return True


def shutdown() -> None:
    """Flush the spans still queued (at the gateway's stop)."""
    global _tracer, _provider
    if _provider is not None:
        _provider.shutdown()
    _tracer = _provider = None


def _allowed(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return name in NUMBER_ATTRIBUTES
    return name in STRING_ATTRIBUTES and isinstance(value, str) and len(value) <= MAX_STRING


def safe_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """The attributes a span may carry; everything else is dropped (see the module's docstring)."""
    return {name: value for name, value in attributes.items() if _allowed(name, value)}


def span(name: str, attributes: Mapping[str, Any] | None = None, *,
         kind: str = "internal") -> contextlib.AbstractContextManager[Any]:
    """A span named ``name`` (a stage: ``detect``, ``embed`` ...) around the block; no-op when tracing is off."""
    if _tracer is None:
        return _NOOP
    from opentelemetry.trace import SpanKind

    kinds = {"internal": SpanKind.INTERNAL, "server": SpanKind.SERVER, "client": SpanKind.CLIENT}
    return _tracer.start_as_current_span(name, kind=kinds[kind], attributes=safe_attributes(attributes or {}))  # type: ignore[no-any-return]


@contextlib.contextmanager
def request_span(name: str, headers: Mapping[str, str], attributes: Mapping[str, Any] | None = None
                 ) -> Iterator[None]:
    """The request's server span, continuing the caller's ``traceparent`` if it sent a valid one (never its
    ``tracestate``)."""
    if _tracer is None:
        yield
        return
    from opentelemetry import context

    # traceparent only: it is hex ids and flags. A caller's tracestate is free text (``ssn=536-90-4721`` is valid
    # tracestate) that the SDK copies onto every span it exports and every call to a remote engine.
    parent = _propagator.extract(carrier={k.lower(): v for k, v in headers.items() if k.lower() == "traceparent"})
    token = context.attach(parent)
    try:
        with span(name, attributes, kind="server"):
            yield
    finally:
        context.detach(token)


def set_attributes(attributes: Mapping[str, Any]) -> None:
    """Add (safe) attributes to the current span: counts and outcomes known only after the work."""
    if _tracer is None:
        return
    from opentelemetry import trace

    trace.get_current_span().set_attributes(safe_attributes(attributes))


def inject(headers: MutableMapping[str, str]) -> None:
    """Put the current trace's ``traceparent`` into an outgoing request's headers (remote engines)."""
    if _propagator is not None:
        _propagator.inject(headers)
