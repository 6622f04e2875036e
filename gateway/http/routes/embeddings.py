"""``POST /v1/embeddings``: OpenAI-compatible, governed: parse, call ``gateway.pipeline.embed``, answer."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post

from gateway.bootstrap import Services
from gateway.http.guard import Call, Guard, Reply, governed
from gateway.pipeline.embed import embed, parse_request

GUARD = Guard(event="embeddings.create", obj="embeddings", act="create", openai_errors=True, needs_body=True)


async def _embed(call: Call) -> Reply:
    services = call.services
    req = parse_request(call.body, services.settings.max_inputs)
    result = await embed(req, call.principal, models=services.models, policy=services.policy,
                         metering=services.metering)
    call.ctx.extra_headers.update(result.headers)
    return Reply(result.body, audit=result.audit)


@post("/v1/embeddings", status_code=200, summary="Create embeddings (OpenAI-compatible)")
async def create_embeddings(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, GUARD, _embed)
