"""The PII analysis use case (``POST /v1/pii/analyze``): what the policy would do with a text; nothing is embedded.

The result names entity types, spans (offsets into the canonical text: see ``gateway.pii.normalize``), scores,
each finding's rule and outcome, and the verdict per text. It never holds the text, a matched value or a
pseudonym token (a token is a keyed digest of a value: returning it would let a caller test guesses). The audit
fields hold entity types and counts only, like every other route's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.auth.apikeys import Principal
from gateway.errors import BadRequest
from gateway.pii.decide import Decision, ExplainedFinding, decide, explain
from gateway.pii.detector_types import Finding
from gateway.pipeline.offload import off_loop, rows_big
from gateway.pipeline.outcome import Outcome
from gateway.pipeline.stages import EmbeddingPipeline
from gateway.policy.loader import GatewayPolicy, PolicyHolder, ScopePolicy
from gateway.store.base import is_collection_name

_SEVERITY = ("block", "pseudonymize", "redact", "allow")


@dataclass(frozen=True)
class AnalyzeRequest:
    texts: list[str]
    collection: str | None
    param: str = "text"  # the body's field, "text" or "texts": how an error names an item


def scope_collection(value: object) -> str | None:
    """The request's optional ``collection``, checked like a collection's name at creation: it names a policy
    scope, and its digest goes in the audit entry."""
    if value is not None and not is_collection_name(value):
        raise BadRequest("'collection' must be a collection name: 1-128 of letters, digits, '_', '.', '-'",
                         param="collection")
    return value if isinstance(value, str) else None


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


async def analyze(req: AnalyzeRequest, principal: Principal, *, pipeline: EmbeddingPipeline,
                  policy: PolicyHolder) -> Outcome:
    tenant = principal.tenant
    current = policy.current()
    scope = current.scope(tenant, req.collection)
    texts = await pipeline.canonical(req.texts, "texts[{i}]" if req.param == "texts" else "text", scope.reject_input)
    findings = await pipeline.detect(texts, scope)
    secret = pipeline.secret_for(tenant, "pseudonym")
    results, summary, blocked = await off_loop(rows_big(len(texts)), _explain_all, texts, req.texts, findings,
                                               scope, secret)
    layer = scope_layer(current, tenant, req.collection)
    audit: dict[str, Any] = {
        "policy_version": current.version, "collection": req.collection, "scope": layer, "count": len(texts),
        "blocked": blocked, "pii": summary,
    }
    body = {"policy_version": current.version,
            "scope": {"tenant": tenant, "collection": req.collection, "layer": layer},
            "results": results}
    return Outcome(body, audit)


def _explain_all(texts: list[str], raws: list[str], findings: list[list[Finding]], scope: ScopePolicy, secret: bytes
                 ) -> tuple[list[dict[str, Any]], dict[str, dict[str, int | str]], int]:
    """Each text's decision and explained findings, the summary of entity types and counts, and how many texts the
    policy blocks."""
    results: list[dict[str, Any]] = []
    summary: dict[str, dict[str, int | str]] = {}
    blocked = 0
    for i, (text, raw, found) in enumerate(zip(texts, raws, findings, strict=True)):
        decision = decide(text, found, scope, secret)
        blocked += decision.blocked
        for etype, outcome in decision.entities.items():
            slot = summary.setdefault(etype, {"count": 0, "action": outcome.action})
            slot["count"] = int(slot["count"]) + outcome.count
        results.append(result_json(i, text, raw, decision, explain(text, found, scope), scope))
    return results, summary, blocked
