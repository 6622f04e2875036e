"""Liveness and readiness probes (unauthenticated, no data)."""

from __future__ import annotations

from typing import Any

from litestar import Response, get

from gateway.bootstrap import Services
from gateway.http.params import PUBLIC
from gateway.pipeline.health import readiness


@get("/healthz", summary="Liveness: the process answers", opt={PUBLIC: True})
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", summary="Readiness: model loaded, store open, keys present", opt={PUBLIC: True})
async def readyz(services: Services) -> Response[Any]:
    ready, checks = await readiness(services.readiness, remote=services.settings.uses_postgres)
    return Response(
        {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
    )
