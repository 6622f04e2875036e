"""The embeddings use case (``POST /v1/embeddings``): screen, decide, embed and protect, or refuse as a unit.

It takes a parsed request and the caller's principal and returns the OpenAI response, already serialized (off the
event loop for a large one), with the headers and the audit fields of the request. A blocked input refuses the whole
request before anything is embedded (``PIIBlocked``, like the privacy budget's ``PrivacyBudgetExceeded``), and
carries the audit fields and the ``X-Gateway-PII`` header of what was found.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

import msgspec

from gateway.auth.apikeys import Principal
from gateway.embedding.served import ServedModels
from gateway.errors import BadRequest, PayloadTooLarge, PIIBlocked
from gateway.limits.quotas import Reservation
from gateway.pii.fields import screen_user
from gateway.pipeline.metering import Metering
from gateway.pipeline.offload import off_loop, rows_big
from gateway.pipeline.outcome import Outcome
from gateway.pipeline.stages import PipelineResult
from gateway.policy.loader import PolicyHolder


@dataclass(frozen=True)
class EmbedRequest:
    """A well-formed OpenAI embeddings request (types and limits checked; the model not yet resolved)."""

    model: str  # "" when omitted: the default model
    inputs: list[str]
    encoding_format: str  # "float" or "base64"
    dimensions: int | None
    user: str | None


# OpenAI's clients send a short opaque id of the end user; a longer value is no id (and is never kept).
MAX_USER_CHARS = 256


def parse_request(body: Any, max_inputs: int) -> EmbedRequest:
    """Validate an OpenAI embeddings request (the model is resolved by the use case)."""
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    model = body.get("model", "")  # omitted: the gateway's default model
    if not isinstance(model, str):
        raise BadRequest("'model' must be a string", param="model")
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


def pii_header(summary: dict[str, dict[str, int | str]]) -> str:
    """``X-Gateway-PII``: entity type, count and action of what was found (never values); ``none`` for nothing."""
    if not summary:
        return "none"
    return ", ".join(f"{t}={v['count']};{v['action']}" for t, v in sorted(summary.items()))


def input_digest(result: PipelineResult) -> str:
    if len(result.items) == 1:
        return result.items[0].digest.hex()
    return hashlib.sha256(b"".join(i.digest for i in result.items)).hexdigest()


async def embed(
    req: EmbedRequest, principal: Principal, *, models: ServedModels, policy: PolicyHolder,
    metering: Metering | None = None,
) -> Outcome:
    """``req.model`` names a served model; empty, the default (the ``model_name`` setting)."""
    served = models.get(req.model)  # ModelNotFound
    spec, pipeline = served.spec, served.pipeline
    if req.dimensions is not None and req.dimensions != spec.dimension:
        raise BadRequest(
            f"model {spec.name} produces {spec.dimension} dimensions; 'dimensions' must be {spec.dimension} "
            "or omitted", param="dimensions",
        )
    current = policy.current()
    scope = current.scope(principal.tenant)
    if req.user is not None and req.user.strip():
        await screen_user(pipeline.detect, req.user, scope)
    held: list[Reservation | None] = []

    async def admit(texts: list[str]) -> None:  # the quotas, on the normalized texts, before any detection
        if metering is not None:
            held.append(await metering.admit(principal, scope.quotas, texts))

    try:
        result = await pipeline.run(principal.tenant, req.inputs, scope, "embeddings", current.version,
                                    all_or_nothing=True, admit=admit)
    except Exception:
        if metering is not None and held:
            await metering.cancel(held[0])
        raise
    summary = result.pii_summary()
    headers = {"X-Gateway-PII": pii_header(summary)}
    audit: dict[str, Any] = {
        # name, version, fingerprint and, for a remote model, its engine's kind and hosts
        "model": {**pipeline.describe(), "space": pipeline.space_version},
        "policy_version": current.version,
        "noise_sigma": result.sigma,
        "pii": summary,
        "count": len(req.inputs),
        "input_digest": input_digest(result),
        "privacy": result.privacy or None,
    }
    if result.blocked_types:
        if metering is not None and held:
            await metering.cancel(held[0])
        raise PIIBlocked(
            "input contains PII that the policy blocks: " + ", ".join(result.blocked_types),
            param="input", detail={"audit": audit}, headers=headers,
        )
    tokens = sum(item.tokens for item in result.items)
    # The model reads at most max_seq_length word pieces of a text; OpenAI's API would refuse a longer input, the
    # model truncates it. The whole text was checked for PII; say how many vectors stand for a truncated text.
    truncated = sum(item.tokens > spec.max_seq_length for item in result.items)
    if truncated:
        headers["X-Gateway-Truncated"] = str(truncated)
        audit["truncated"] = truncated
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    audit["tokens"] = tokens  # what the usage record and the quotas count: the two can be reconciled
    if metering is not None:
        await metering.settle(held[0] if held else None, principal, spec.name, tokens)
    body = await off_loop(rows_big(len(result.items)), response_body, result, req.encoding_format, spec.name, usage)
    return Outcome(body, audit, headers)  # headers: X-Gateway-PII, and X-Gateway-Truncated


def response_body(result: PipelineResult, fmt: str, model: str, usage: dict[str, int]) -> bytes:
    """The OpenAI response, serialized: 2,048 vectors as float JSON take about 90 ms of CPU. Encoded item by item,
    because one encoder call over all of them would hold the GIL, and so the event loop, for its whole length."""
    items = []
    for index, item in enumerate(result.items):
        assert item.vector is not None  # blocked inputs raised before
        embedding: Any = (
            base64.b64encode(item.vector.astype("<f4").tobytes()).decode("ascii")
            if fmt == "base64"
            else item.vector.tolist()
        )
        items.append(_json({"object": "embedding", "index": index, "embedding": embedding}))
    return b"".join((b'{"object":"list","data":[', b",".join(items), b'],"model":', _json(model),
                     b',"usage":', _json(usage), b"}"))


_json = msgspec.json.encode
