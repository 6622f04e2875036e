"""``POST /v1/pii/analyze``: what the policy would do with a text, for policy authors; nothing is embedded.

The handler parses and answers; ``gateway.pipeline.analyze`` does the work and says what the response and its audit
entry hold (entity types, spans, scores and verdicts; never a text, a value or a pseudonym token).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post

from gateway.bootstrap import Services
from gateway.errors import BadRequest, PayloadTooLarge
from gateway.http.guard import Call, Guard, Reply, governed
from gateway.pipeline.analyze import AnalyzeRequest, analyze, scope_collection

GUARD = Guard(event="pii.analyze", obj="pii", act="analyze", needs_body=True)
_ALLOWED_KEYS = frozenset({"text", "texts", "collection"})


def parse_request(body: Any, max_inputs: int, max_chars: int) -> AnalyzeRequest:
    """Validate ``{"text": str}`` or ``{"texts": [str, ...]}``, with an optional ``collection``."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object with 'text' or 'texts'")
    unknown = sorted(set(body) - _ALLOWED_KEYS)
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(unknown)}", param=unknown[0])
    if ("text" in body) == ("texts" in body):
        raise BadRequest("send exactly one of 'text' (a string) or 'texts' (a list of strings)", param="text")
    param = "text" if "text" in body else "texts"
    raw = body[param]
    if param == "text":
        if not isinstance(raw, str):
            raise BadRequest("'text' must be a string", param="text")
        texts = [raw]
    else:
        if not isinstance(raw, list) or not raw or not all(isinstance(t, str) for t in raw):
            raise BadRequest("'texts' must be a non-empty list of strings", param="texts")
        texts = list(raw)
    if len(texts) > max_inputs:
        raise PayloadTooLarge(f"'texts' has {len(texts)} items; the limit is {max_inputs}", param="texts")
    for i, text in enumerate(texts):
        if not text.strip():
            raise BadRequest(f"{param}[{i}] is empty", param=param)
        if len(text) > max_chars:
            raise PayloadTooLarge(f"{param}[{i}] has {len(text)} characters; the limit is {max_chars}", param=param)
    return AnalyzeRequest(texts, scope_collection(body.get("collection")), param)


async def _analyze(call: Call) -> Reply:
    settings = call.services.settings
    req = parse_request(call.body, settings.max_inputs, settings.max_text_chars)
    result = await analyze(req, call.principal, pipeline=call.services.pipeline, policy=call.services.policy)
    return Reply(result.body, audit=result.audit)


@post("/v1/pii/analyze", status_code=200, summary="What the PII policy would do with a text (nothing embedded)")
async def analyze_pii(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, GUARD, _analyze)


ROUTES = [analyze_pii]
