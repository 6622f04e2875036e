"""``GET /metrics``: Prometheus text exposition of the gateway's own registry.

Unauthenticated, like ``/healthz``: it holds counts, latencies and names (route templates, entity types,
tenant and collection names on drift gauges), never text, PII values or keys. Expose it on the internal network
only; docs/observability.md says why and how.
"""

from __future__ import annotations

from typing import Any

from litestar import Response, get

from gateway.observability.metrics import CONTENT_TYPE
from gateway.service import Services


@get("/metrics", summary="Prometheus metrics", include_in_schema=True)
async def metrics(services: Services) -> Response[Any]:
    obs = services.observability
    body = obs.metrics.render() if obs is not None else b""
    # Litestar appends "; charset=utf-8" to text types itself.
    media_type = CONTENT_TYPE.replace("; charset=utf-8", "")
    return Response(body, media_type=media_type, status_code=200 if obs is not None else 503)
