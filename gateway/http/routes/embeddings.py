"""``POST /v1/embeddings``: OpenAI-compatible, governed: parse, call ``gateway.pipeline.embed``, answer."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post

from gateway.bootstrap import Services
from gateway.errors import BadRequest, PayloadTooLarge
from gateway.http.guard import Call, Guard, Reply, governed
from gateway.pipeline.embed import EmbedRequest, embed

# OpenAI's clients send a short opaque id of the end user; a longer value is no id (and is never kept).
MAX_USER_CHARS = 256
GUARD = Guard(event="embeddings.create", obj="embeddings", act="create", openai_errors=True, needs_body=True)


def parse_request(body: Any, max_inputs: int) -> EmbedRequest:
    """Validate an OpenAI embeddings request (the model is resolved by the use case)."""
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("'model' is required and must be a string", param="model")
    raw = body.get("input")
    if isinstance(raw, str):
        inputs = [raw]
    elif isinstance(raw, list) and raw:
        if not all(isinstance(x, str) for x in raw):
            if all(_is_token_ids(x) for x in raw):
                raise BadRequest(
                    "token arrays are not accepted: send text. (LangChain's OpenAIEmbeddings sends tokens unless "
                    "check_embedding_ctx_length=False)", param="input",
                )
            first = next(i for i, x in enumerate(raw) if not isinstance(x, str))
            raise BadRequest(f"'input' must be a string or a list of strings; input[{first}] is not a string",
                             param="input")
        inputs = list(raw)
    elif isinstance(raw, list):
        raise BadRequest("'input' must not be an empty list", param="input")
    else:
        raise BadRequest("'input' is required and must be a string or a list of strings", param="input")
    if len(inputs) > max_inputs:
        raise PayloadTooLarge(f"'input' has {len(inputs)} items; the limit is {max_inputs}", param="input")
    if any(not x.strip() for x in inputs):
        raise BadRequest("'input' must not contain empty strings", param="input")
    fmt = body.get("encoding_format", "float")
    if fmt not in ("float", "base64"):
        raise BadRequest("'encoding_format' must be 'float' or 'base64'", param="encoding_format")
    dims = body.get("dimensions")
    if dims is not None and (isinstance(dims, bool) or not isinstance(dims, int)):
        raise BadRequest("'dimensions' must be an integer", param="dimensions")
    return EmbedRequest(model, inputs, fmt, dims, parse_user(body))


def parse_user(body: dict[str, Any]) -> str | None:
    """The optional ``user`` field: a string of at most ``MAX_USER_CHARS`` characters (screened for PII later)."""
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise BadRequest("'user' must be a string", param="user")
    if user is not None and len(user) > MAX_USER_CHARS:
        raise BadRequest(f"'user' is {len(user)} characters; the limit is {MAX_USER_CHARS} (send an opaque id)",
                         param="user")
    return user


def _is_token_ids(item: Any) -> bool:
    """One token id, or a list of them: what OpenAI's API also accepts as input (and tiktoken users send)."""
    if isinstance(item, list):
        return bool(item) and all(isinstance(t, int) and not isinstance(t, bool) for t in item)
    return isinstance(item, int) and not isinstance(item, bool)


async def _embed(call: Call) -> Reply:
    services = call.services
    req = parse_request(call.body, services.settings.max_inputs)
    result = await embed(req, call.principal, pipeline=services.pipeline, registry=services.registry,
                         policy=services.policy, metering=services.metering)
    call.ctx.extra_headers.update(result.headers)
    return Reply(result.body, audit=result.audit)


@post("/v1/embeddings", status_code=200, summary="Create embeddings (OpenAI-compatible)")
async def create_embeddings(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, GUARD, _embed)
