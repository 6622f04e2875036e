"""``POST /v1/pii/analyze``: what the policy would do with a text, for policy authors; nothing is embedded.

The response names entity types, spans (offsets into the canonical text: see ``gateway.pii.normalize``), scores,
each finding's rule and outcome, and the verdict per text. It never echoes the text, a matched value or a
pseudonym token (a token is a keyed digest of a value: returning it would let a caller test guesses). The audit
entry holds entity types and counts only, like every other route's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, post

from gateway.bootstrap import Services
from gateway.errors import BadRequest, PayloadTooLarge
from gateway.http.guard import Call, Guard, Reply, governed
from gateway.pii.decide import Decision, ExplainedFinding, decide, explain
from gateway.policy.loader import GatewayPolicy, ScopePolicy
from gateway.store.base import is_collection_name

GUARD = Guard(event="pii.analyze", obj="pii", act="analyze", needs_body=True)
_ALLOWED_KEYS = frozenset({"text", "texts", "collection"})
_SEVERITY = ("block", "pseudonymize", "redact", "allow")


@dataclass(frozen=True)
class AnalyzeRequest:
    texts: list[str]
    collection: str | None


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
    collection = body.get("collection")
    # Checked like a collection's name at creation: it names a policy scope, and its digest goes in the entry.
    if collection is not None and not is_collection_name(collection):
        raise BadRequest("'collection' must be a collection name: 1-128 of letters, digits, '_', '.', '-'",
                         param="collection")
    return AnalyzeRequest(texts, collection)


def scope_layer(policy: GatewayPolicy, tenant: str, collection: str | None) -> str:
    """Which level of the policy file decides: a typo in a collection name silently falls back a level, so say so."""
    named = {(t, c) for t, c, _ in policy.all_scopes()}
    if collection is not None and (tenant, collection) in named:
        return "collection"
    return "tenant" if (tenant, None) in named else "defaults"


def verdict(decision: Decision) -> str:
    """The text's action: the strictest applied one (``none`` when no rule applied)."""
    actions = {o.action for o in decision.entities.values()}
    return next((a for a in _SEVERITY if a in actions), "none")


def finding_json(f: ExplainedFinding, scope: ScopePolicy) -> dict[str, Any]:
    rule = scope.entities.get(f.entity_type)
    return {
        "entity_type": f.entity_type, "start": f.start, "end": f.end, "score": f.score,
        "threshold": rule.threshold if rule is not None else None,
        "action": f.action, "outcome": f.outcome, "source": f.source,
    }


def result_json(index: int, text: str, raw: str, decision: Decision, found: list[ExplainedFinding],
                scope: ScopePolicy) -> dict[str, Any]:
    return {
        "index": index,
        "action": verdict(decision),
        "blocked": decision.blocked,
        "blocked_types": list(decision.blocked_types),
        "entities": {t: {"count": o.count, "action": o.action} for t, o in decision.entities.items()},
        "findings": [finding_json(f, scope) for f in found],
        # Offsets index the canonical text; when it differs from what was sent, the caller must normalize too.
        "canonical_length": len(text),
        "normalized": text != raw,
    }


async def _analyze(call: Call) -> Reply:
    services = call.services
    req = parse_request(call.body, services.settings.max_inputs, services.settings.max_text_chars)
    tenant = call.principal.tenant
    policy = services.policy.current()
    scope = policy.scope(tenant, req.collection)
    texts = await services.pipeline.canonical(req.texts, "texts[{i}]" if "texts" in call.body else "text")
    findings = await services.pipeline.detect(texts, scope)
    secret = services.pipeline.secret_for(tenant, "pseudonym")
    results: list[dict[str, Any]] = []
    summary: dict[str, dict[str, int | str]] = {}
    blocked = 0
    for i, (text, raw, found) in enumerate(zip(texts, req.texts, findings, strict=True)):
        decision = decide(text, found, scope, secret)
        blocked += decision.blocked
        for etype, outcome in decision.entities.items():
            slot = summary.setdefault(etype, {"count": 0, "action": outcome.action})
            slot["count"] = int(slot["count"]) + outcome.count
        results.append(result_json(i, text, raw, decision, explain(text, found, scope), scope))
    layer = scope_layer(policy, tenant, req.collection)
    audit: dict[str, Any] = {
        "policy_version": policy.version, "collection": req.collection, "scope": layer, "count": len(texts),
        "blocked": blocked, "pii": summary,
    }
    return Reply(
        {"policy_version": policy.version,
         "scope": {"tenant": tenant, "collection": req.collection, "layer": layer},
         "results": results},
        audit=audit,
    )


@post("/v1/pii/analyze", status_code=200, summary="What the PII policy would do with a text (nothing embedded)")
async def analyze_pii(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, GUARD, _analyze)


ROUTES = [analyze_pii]
