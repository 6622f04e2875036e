"""``GET /metrics``: Prometheus text exposition of the gateway's own registry.

It holds counts, latencies and names (route templates, entity types, tenant and collection names on drift
gauges), never text, PII values or keys. Open by default, like ``/healthz``, for the scraper on the internal
network; with the ``metrics_token`` setting it answers only ``Authorization: Bearer <token>`` (compared in constant
time), which is what to use when tenant names are themselves confidential. Two ``Authorization`` headers are
refused (401) whether or not a token is set, as on the guarded routes; every refusal is audited (``auth.failure``).
"""

from __future__ import annotations

import hmac
import uuid
from typing import Any

from litestar import Request, Response, get

from gateway.auditing.auditor import RequestContext, route_of
from gateway.bootstrap import Services
from gateway.http.params import PUBLIC
from gateway.observability.metrics import CONTENT_TYPE


@get("/metrics", summary="Prometheus metrics", include_in_schema=True, opt={PUBLIC: True})
async def metrics(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    token = services.settings.metrics_token
    authorization = request.headers.getall("authorization", [])
    if len(authorization) > 1:  # as on the guarded routes: a proxy and the gateway could each read another one
        return _refused(request, services, b"send one Authorization header, not several\n", "several credentials")
    if token:
        presented = (authorization or [""])[0].removeprefix("Bearer ").strip()
        if not hmac.compare_digest(presented.encode(), token.encode()):
            return _refused(request, services, b"metrics token required\n", None)
    obs = services.observability
    body = obs.metrics.render() if obs is not None else b""
    # Litestar appends "; charset=utf-8" to text types itself.
    media_type = CONTENT_TYPE.replace("; charset=utf-8", "")
    return Response(body, media_type=media_type, status_code=200 if obs is not None else 503)


def _refused(request: Request[Any, Any, Any], services: Services, message: bytes, reason: str | None) -> Response[Any]:
    """401, audited as ``auth.failure`` (counted in the unauthenticated aggregate past the burst, as on the API)."""
    ctx = RequestContext(request_id=uuid.uuid4().hex, route=route_of(request.method, request.scope))
    services.auditor.note("auth.failure", ctx, "deny", status=401, code="invalid_api_key", reason=reason)
    return Response(message, media_type="text/plain", status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="metrics"', "X-Request-Id": ctx.request_id})
