"""Render errors in the two shapes callers expect, and nowhere else.

``/v1/embeddings`` speaks OpenAI's shape so the official clients raise their usual exceptions::

    {"error": {"message": ..., "type": ..., "param": ..., "code": ...}}

Every other route answers RFC 9457 problem details (``application/problem+json``)::

    {"type": "urn:gateway:error:<code>", "title": ..., "status": ..., "detail": ..., "code": ..., "request_id": ...}
"""

from __future__ import annotations

import math
from http import HTTPStatus
from typing import Any

import msgspec
from litestar import Response

from gateway.errors import RequestError

OPENAI_ROUTES = ("/v1/embeddings", "/v1/models", "/v1/files", "/v1/batches")


def speaks_openai(path: str) -> bool:
    """Whether errors on ``path`` take OpenAI's shape (the OpenAI-compatible routes) rather than problem details."""
    return path.startswith(OPENAI_ROUTES)


def error_body(exc: RequestError, request_id: str, openai_shape: bool) -> dict[str, Any]:
    public = {k: v for k, v in exc.detail.items() if k != "audit"}
    if openai_shape:
        # Public detail (a quota's ``limit`` and ``scope``) beside OpenAI's four fields; its clients ignore extras.
        return {"error": {"message": exc.message, "type": exc.error_type, "param": exc.param, "code": exc.code,
                          **public}}
    body: dict[str, Any] = {
        "type": f"urn:gateway:error:{exc.code}",
        "title": HTTPStatus(exc.status).phrase,
        "status": exc.status,
        "detail": exc.message,
        "code": exc.code,
        "request_id": request_id,
    }
    if exc.param:
        body["param"] = exc.param
    body.update(public)
    return body


def retry_after(seconds: float) -> str:
    """The ``Retry-After`` header's value: whole seconds, rounded up (a client that waits that long is let in), at
    least 1."""
    return str(max(1, math.ceil(seconds)))


def error_response(
    exc: RequestError, request_id: str, openai_shape: bool, headers: dict[str, str] | None = None
) -> Response[bytes]:
    out = {**exc.headers, **(headers or {})}
    out["X-Request-Id"] = request_id
    if exc.retry_after is not None:
        out["Retry-After"] = retry_after(exc.retry_after)
    if exc.status == 401:
        out["WWW-Authenticate"] = 'Bearer realm="gateway"'
    media = "application/json" if openai_shape else "application/problem+json"
    return Response(
        msgspec.json.encode(error_body(exc, request_id, openai_shape)),
        status_code=exc.status,
        media_type=media,
        headers=out,
    )
