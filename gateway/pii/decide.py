"""Decide what happens to a text given its findings and the scope's policy: block, redact, pseudonymize, allow.

Order, and why:
1. deny-list terms are added as findings of their entity type (score 1.0): the policy author said so;
2. findings without a rule in the scope, or under their entity's threshold, drop out;
3. findings inside an allow-listed term (e.g. the company's own name) drop out, except deny-list ones;
4. overlaps are resolved greedily: the stricter action first (one span read as a card and as a phone number
   blocks: the cost of a wrong block is a retry, of a wrong redaction a leaked card), then the higher score,
   then the longer span;
5. any surviving finding whose action is ``block`` blocks the whole text; otherwise presidio-anonymizer
   replaces ``redact`` spans with typed placeholders (``<PERSON>``) and ``pseudonymize`` spans with keyed,
   deterministic tokens (``<PERSON_3f9a1c2b>``), so one name maps to one token across a tenant's documents and
   queries, and search still finds them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import OperatorConfig, RecognizerResult

from gateway.pii.detector_types import Finding
from gateway.pii.normalize import DetectionView, detection_view, normalize
from gateway.policy.loader import ScopePolicy

_SEVERITY = {"block": 3, "pseudonymize": 2, "redact": 1, "allow": 0}

PIISummary = dict[str, dict[str, int | str]]  # entity type -> {"count": n, "action": a}: what entries and headers hold


@dataclass(frozen=True)
class EntityOutcome:
    count: int
    action: str


@dataclass(frozen=True)
class Decision:
    """What the pipeline does with one text; ``text`` is empty when blocked (a blocked text is never used)."""

    blocked: bool
    text: str
    entities: Mapping[str, EntityOutcome]
    blocked_types: tuple[str, ...]


@dataclass(frozen=True)
class ExplainedFinding:
    """One finding as a policy author sees it: span, score, the rule's action and whether it applied."""

    entity_type: str
    start: int
    end: int
    score: float
    action: str | None  # None: the scope has no rule for this type
    outcome: str  # applied | below_threshold | allow_listed | overlapped | no_rule
    source: str  # detector | deny_list


@lru_cache(maxsize=1)
def _anonymizer() -> AnonymizerEngine:
    return AnonymizerEngine()  # type: ignore[no-untyped-call]


@lru_cache(maxsize=4096)
def _term_pattern(term: str) -> re.Pattern[str]:
    folded = detection_view(normalize(term)).text
    words = [re.escape(w) for w in folded.split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)", re.IGNORECASE)


def _term_spans(view: DetectionView, terms: Sequence[str]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for term in terms:
        for m in _term_pattern(term).finditer(view.text):
            spans.append(view.to_canonical(m.start(), m.end()))
    return spans


def _classify(text: str, findings: Sequence[Finding], scope: ScopePolicy) -> list[tuple[Finding, str, str]]:
    """Every finding (deny-list ones added) with its outcome and source, in text order."""
    view = detection_view(text) if (scope.deny_list or scope.allow_list) else None
    tagged: list[tuple[Finding, str]] = [(f, "detector") for f in findings]
    if view is not None:
        for etype, terms in scope.deny_list.items():
            tagged.extend((Finding(etype, s, e, 1.0), "deny_list") for s, e in _term_spans(view, terms))
    allowed = _term_spans(view, scope.allow_list) if view is not None and scope.allow_list else []
    outcomes: dict[int, str] = {}
    candidates: list[int] = []
    for i, (f, source) in enumerate(tagged):
        rule = scope.entities.get(f.entity_type)
        if rule is None:
            outcomes[i] = "no_rule"
        elif f.score < rule.threshold:
            outcomes[i] = "below_threshold"
        elif source != "deny_list" and any(s <= f.start and f.end <= e for s, e in allowed):
            outcomes[i] = "allow_listed"
        else:
            candidates.append(i)

    def rank(i: int) -> tuple[int, float, int]:
        f = tagged[i][0]
        return (-_SEVERITY[scope.entities[f.entity_type].action], -f.score, -(f.end - f.start))

    kept: list[Finding] = []
    for i in sorted(candidates, key=rank):
        f = tagged[i][0]
        if any(f.start < k.end and k.start < f.end for k in kept):
            outcomes[i] = "overlapped"
        else:
            outcomes[i] = "applied"
            kept.append(f)
    result = [(f, outcomes[i], source) for i, (f, source) in enumerate(tagged)]
    result.sort(key=lambda item: (item[0].start, item[0].end))
    return result


def pseudonym(entity_type: str, value: str, secret: bytes) -> str:
    """Keyed, deterministic token for a value: same tenant secret and value -> same token, nothing else leaks.

    The value is folded (homoglyphs, digits, case, separators) first, so "Bob Smith" and "BOB  SMITH" agree. The
    token is two words from a fixed list (``<PERSON amber falcon>``): real words are word pieces the model
    embeds with signal, so a query naming the same person lands near the document (a hex digest would be split
    into meaningless pieces). Two words from 8192 give 2^26 tokens per entity type and tenant.
    """
    folded = "".join(c for c in detection_view(normalize(value)).text.casefold() if c.isalnum())
    digest = hmac.new(secret, f"{entity_type}\x00{folded}".encode(), hashlib.sha256).digest()
    words = _pseudonym_words()
    first = int.from_bytes(digest[0:4], "big") % len(words)
    second = int.from_bytes(digest[4:8], "big") % len(words)
    return f"<{entity_type} {words[first]} {words[second]}>"


@lru_cache(maxsize=1)
def _pseudonym_words() -> tuple[str, ...]:
    text = (Path(__file__).parent / "data" / "pseudonym_words.txt").read_text(encoding="utf-8")
    return tuple(line for line in text.splitlines() if line and not line.startswith("#"))


def _operators(applied: Sequence[Finding], scope: ScopePolicy, secret: bytes) -> dict[str, OperatorConfig]:
    operators: dict[str, OperatorConfig] = {}
    for etype in {f.entity_type for f in applied}:
        action = scope.entities[etype].action
        if action == "redact":
            operators[etype] = OperatorConfig("replace", {"new_value": f"<{etype}>"})
        elif action == "pseudonymize":

            def token(value: str, _etype: str = etype) -> str:
                return pseudonym(_etype, value, secret)

            operators[etype] = OperatorConfig("custom", {"lambda": token})
    return operators


def decide(text: str, findings: Sequence[Finding], scope: ScopePolicy, pseudonym_secret: bytes) -> Decision:
    """Apply the scope's policy to the canonical ``text`` and its ``findings`` (canonical offsets)."""
    applied = [f for f, outcome, _ in _classify(text, findings, scope) if outcome == "applied"]
    counts: dict[str, int] = {}
    for f in applied:
        counts[f.entity_type] = counts.get(f.entity_type, 0) + 1
    entities = {t: EntityOutcome(n, scope.entities[t].action) for t, n in sorted(counts.items())}
    blocked_types = tuple(t for t, o in entities.items() if o.action == "block")
    if blocked_types:
        return Decision(True, "", entities, blocked_types)
    to_replace = [f for f in applied if scope.entities[f.entity_type].action in ("redact", "pseudonymize")]
    if not to_replace:
        return Decision(False, text, entities, ())
    results = [RecognizerResult(f.entity_type, f.start, f.end, f.score) for f in to_replace]
    operators: Any = _operators(to_replace, scope, pseudonym_secret)
    anonymized = _anonymizer().anonymize(text=text, analyzer_results=results, operators=operators)
    return Decision(False, anonymized.text, entities, ())


def pii_summary(decisions: Iterable[Decision]) -> PIISummary:
    """Entity type -> total count over ``decisions`` and the action of its first one (counts and types, never
    values): the one summary an audit entry, a provenance record and the ``X-Gateway-PII`` header hold."""
    out: PIISummary = {}
    for decision in decisions:
        for etype, outcome in decision.entities.items():
            slot = out.setdefault(etype, {"count": 0, "action": outcome.action})
            slot["count"] = int(slot["count"]) + outcome.count
    return out


def explain(text: str, findings: Sequence[Finding], scope: ScopePolicy) -> list[ExplainedFinding]:
    """For ``POST /v1/pii/analyze``: every finding, the rule's action and what happened to it (no values)."""
    out: list[ExplainedFinding] = []
    for f, outcome, source in _classify(text, findings, scope):
        rule = scope.entities.get(f.entity_type)
        action = rule.action if rule is not None else None
        out.append(ExplainedFinding(f.entity_type, f.start, f.end, round(f.score, 4), action, outcome, source))
    return out
