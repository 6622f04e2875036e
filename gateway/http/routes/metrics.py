"""``GET /metrics``: Prometheus text exposition of the gateway's own registry.

It holds counts, latencies and names (route templates, entity types, tenant and collection names on drift
gauges), never text, PII values or keys. Open by default, like ``/healthz``, for the scraper on the internal
network; with the ``metrics_token`` setting it answers only ``Authorization: Bearer <token>`` (compared in constant
time), which is what to use when tenant names are themselves confidential.
"""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Request, Response, get

from gateway.bootstrap import Services
from gateway.observability.metrics import CONTENT_TYPE


@get("/metrics", summary="Prometheus metrics", include_in_schema=True)
async def metrics(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    token = services.settings.metrics_token
    if token:
        presented = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(presented.encode(), token.encode()):
            return Response(b"metrics token required\n", media_type="text/plain", status_code=401,
                            headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    obs = services.observability
    body = obs.metrics.render() if obs is not None else b""
    # Litestar appends "; charset=utf-8" to text types itself.
    media_type = CONTENT_TYPE.replace("; charset=utf-8", "")
    return Response(body, media_type=media_type, status_code=200 if obs is not None else 503)
