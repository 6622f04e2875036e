"""The request's server span (``gateway.observability.tracing``), as ASGI middleware around every HTTP request.

It continues the caller's W3C ``traceparent`` (never its ``tracestate``), names the matched route template (never
the raw path) and the status. Off (no OTLP endpoint configured), the middleware passes requests straight through.
"""

from __future__ import annotations

from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from gateway.observability import tracing

_PROPAGATED = (b"traceparent",)  # never tracestate: free text a caller could fill with PII


def tracing_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if str(scope["type"]) != "http" or not tracing.enabled():
            await app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"] if k in _PROPAGATED}
        status: dict[str, Any] = {}

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        with tracing.request_span("request", headers, {"http.request.method": scope.get("method", "")}):
            try:
                await app(scope, receive, send_status)
            finally:
                route = scope.get("path_template")
                tracing.set_attributes({"http.route": route if isinstance(route, str) else "unmatched",
                                          "http.response.status_code": status.get("code", 500)})

    return middleware
