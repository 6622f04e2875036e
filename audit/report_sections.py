"""The report's aggregates, each read from the fields the gateway writes (``audit.events.ENTRY_FIELDS``).

:data:`READS` names every entry field this module reads; a test checks each against the registry, the docs and
the entries the gateway actually writes, so a renamed field fails a test instead of reading "none recorded".
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from audit.report_scope import entry_time

Indexed = Sequence[tuple[int, dict[str, Any]]]
DENIALS = ("deny", "block", "error")
READS = (
    "v", "time", "event", "decision", "tenant", "subject", "key_id", "request_id", "status", "code", "reason",
    "pii", "model", "policy_version", "noise_sigma", "privacy.scope", "privacy.epsilon_worst_case",
    "privacy.epsilon_radius", "privacy.releases_new", "documents", "count", "what", "kek_version",
    "retired_kek_version", "old_version", "new_version", "changes", "actor",
)
CARD_FIELDS = ("time", "event", "decision", "tenant", "subject", "key_id", "status", "code", "policy_version",
               "noise_sigma", "count")


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def is_request(e: dict[str, Any]) -> bool:
    """An entry of a request to the gateway (API or console), not a CLI action or a start/stop."""
    return isinstance(e.get("request_id"), str)


def ingest_counts(e: dict[str, Any]) -> tuple[int, int]:
    """(stored, blocked) documents of a ``document.ingest`` entry."""
    docs = e.get("documents")
    if not isinstance(docs, list):
        return 0, 0
    statuses = [d.get("status") for d in docs if isinstance(d, dict)]
    return statuses.count("stored"), statuses.count("blocked")


def request_decision(e: dict[str, Any]) -> str:
    """The entry's decision; an ingest that stored some of its documents and blocked others is ``partial``."""
    if e.get("event") == "document.ingest":
        stored, blocked = ingest_counts(e)
        if stored and blocked:
            return "partial"
    return str(e.get("decision"))


def released_vectors(e: dict[str, Any]) -> bool:
    """Whether the request released noised vectors: an allowed embedding, or an ingest that stored something."""
    if e.get("event") == "document.ingest":
        return ingest_counts(e)[0] > 0
    return e.get("event") == "embeddings.create" and e.get("decision") == "allow"


def by_decision(entries: Indexed) -> dict[str, int]:
    return dict(Counter(request_decision(e) for _, e in entries if is_request(e)).most_common())


def denials(entries: Indexed) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """Refusals per event and decision, and per error code (``code``; a refused policy reload: ``reason``)."""
    table: dict[str, Counter[str]] = defaultdict(Counter)
    codes: Counter[str] = Counter()
    for _, e in entries:
        decision = request_decision(e)  # a partial ingest stored documents: not a refusal
        if decision in DENIALS:
            table[str(e.get("event"))][decision] += 1
            codes[_code(e)] += 1
    return {k: dict(v) for k, v in sorted(table.items())}, dict(codes.most_common())


def _code(e: dict[str, Any]) -> str:
    if e.get("code") or e.get("reason"):
        return str(e.get("code") or e.get("reason"))
    if e.get("event") == "document.ingest":  # an ingest answers 200 with per-document outcomes: blocked by PII
        return "pii_blocked"
    return "unspecified"


def pii(entries: Indexed) -> dict[str, dict[str, int]]:
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for _, e in entries:
        found = e.get("pii")
        if not isinstance(found, dict):
            continue
        for entity, info in found.items():
            if isinstance(info, dict):
                count = info.get("count", 1)
                table[str(entity)][str(info.get("action", "unknown"))] += count if isinstance(count, int) else 1
    return {k: dict(v) for k, v in sorted(table.items())}


def noise(entries: Indexed) -> dict[str, Any]:
    """Sigma of the requests that released vectors; a blocked request released none and is not counted."""
    sigmas = [s for _, e in entries if released_vectors(e) and (s := _number(e.get("noise_sigma"))) is not None]
    return {"requests_with_noise": len(sigmas), "sigma_values": dict(Counter(str(s) for s in sigmas)),
            "sigma_min": min(sigmas, default=None), "sigma_max": max(sigmas, default=None)}


def privacy(entries: Indexed) -> dict[str, Any]:
    """Per tenant and ledger scope: the latest (largest) epsilon in both views, and releases charged."""
    scopes: dict[str, dict[str, Any]] = {}
    for _, e in entries:
        p = e.get("privacy")
        if not isinstance(p, dict):
            continue
        worst, radius = _number(p.get("epsilon_worst_case")), _number(p.get("epsilon_radius"))
        if worst is None and radius is None:
            continue
        key = f"{e.get('tenant')}/{p.get('scope', '-')}"
        row = scopes.setdefault(key, {"epsilon_worst_case": None, "epsilon_radius": None, "releases_new": 0})
        for name, value in (("epsilon_worst_case", worst), ("epsilon_radius", radius)):
            if value is not None and (row[name] is None or value > row[name]):
                row[name] = value
        row["releases_new"] += int(_number(p.get("releases_new")) or 0)
    exceeded = sum(1 for _, e in entries if e.get("event") == "privacy.budget_exceeded")
    return {"by_tenant_scope": dict(sorted(scopes.items())), "budget_exceeded": exceeded}


def ingest(entries: Indexed) -> dict[str, int]:
    rows = [ingest_counts(e) for _, e in entries if e.get("event") == "document.ingest"]
    return {"requests": len(rows), "documents_stored": sum(s for s, _ in rows),
            "documents_blocked": sum(b for _, b in rows), "partial_requests": sum(1 for s, b in rows if s and b)}


def keys(entries: Indexed) -> dict[str, Any]:
    def rows(event: str, *fields: str) -> list[dict[str, Any]]:
        return [{f: e.get(f) for f in ("time", *fields)} for _, e in entries if e.get("event") == event]

    return {
        "rotations": rows("key.rotate", "kek_version", "retired_kek_version", "actor"),
        "rewraps": sum(1 for _, e in entries if e.get("event") == "key.rewrap"),
        "shreds": rows("tenant.shred", "tenant", "actor"),
        "api_keys": rows("apikey.create", "tenant", "subject", "key_id", "actor")
        + rows("apikey.revoke", "tenant", "subject", "key_id", "actor")
        + rows("apikey.rotate", "tenant", "subject", "key_id", "actor"),
        "integrity_failures": sum(1 for _, e in entries if e.get("event") == "crypto.integrity_failure"),
    }


def versions(entries: Indexed, key: str) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for _, e in entries:
        value = e.get(key)
        if value is None:
            continue
        label = json.dumps(value, sort_keys=True) if isinstance(value, dict) else str(value)
        row = seen.setdefault(label, {"value": value, "first_seen": e.get("time"), "count": 0})
        row["last_seen"], row["count"] = e.get("time"), row["count"] + 1
    return list(seen.values())


def policy_timeline(entries: Indexed) -> list[dict[str, Any]]:
    """Every policy reload (refused ones included) and every change of the version requests ran under."""
    out: list[dict[str, Any]] = []
    current: str | None = None
    for index, e in entries:
        if e.get("event") == "policy.reload":
            out.append({"index": index, "time": e.get("time"), "kind": "reload", "what": e.get("what"),
                        "decision": e.get("decision"), "old_version": e.get("old_version"),
                        "new_version": e.get("new_version") or e.get("policy_version"),
                        "changes": e.get("changes"), "reason": e.get("reason")})
            continue
        version = e.get("policy_version")
        if isinstance(version, str) and version != current:
            out.append({"index": index, "time": e.get("time"), "kind": "in force", "what": "gateway",
                        "decision": None, "old_version": current, "new_version": version, "changes": None,
                        "reason": None})
            current = version
    return out


def timeline(entries: Indexed) -> dict[str, Any]:
    """Counts per decision per time bucket; hourly, or daily when the entries span more than two days."""
    times = [(t, str(e.get("decision", "unknown"))) for _, e in entries if (t := entry_time(e)) is not None]
    if not times:
        return {"bucket": "hour", "buckets": []}
    daily = (max(t for t, _ in times) - min(t for t, _ in times)).total_seconds() > 2 * 86400
    fmt = "%Y-%m-%d" if daily else "%Y-%m-%dT%H:00Z"
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for t, decision in times:
        counts[t.strftime(fmt)][decision] += 1
    return {"bucket": "day" if daily else "hour", "buckets": [{"start": k, "counts": dict(counts[k])}
                                                               for k in sorted(counts)]}


def retention(entries: Indexed, now: datetime) -> dict[str, Any]:
    """How far back the log reaches, against the six months of EU AI Act Art. 19(1)."""
    times = [t for _, e in entries if (t := entry_time(e)) is not None]
    if not times:
        return {"first_time": None, "days_covered": 0}
    first = min(times)
    return {"first_time": first.isoformat().replace("+00:00", "Z"), "days_covered": (now - first).days}


def evidence_cards(entries: Indexed, leaf_of: Callable[[int], bytes]) -> list[dict[str, Any]]:
    """One card per request id: what was decided, under which policy and model, and where to prove it."""
    cards: dict[str, dict[str, Any]] = {}
    for index, e in entries:
        rid = e.get("request_id")
        if not isinstance(rid, str):
            continue
        card = {"request_id": rid, "index": index,
                "leaf_hash": hashlib.sha256(b"\x00" + leaf_of(index)).hexdigest(),
                **{f: e.get(f) for f in CARD_FIELDS}}
        card["decision"] = request_decision(e)
        model = e.get("model")
        card["model"] = f"{model.get('name')} {model.get('version')}" if isinstance(model, dict) else None
        found = e.get("pii")
        card["pii"] = ", ".join(f"{k}={v.get('count')};{v.get('action')}" for k, v in sorted(found.items())
                                if isinstance(v, dict)) if isinstance(found, dict) else None
        p = e.get("privacy")
        card["epsilon_radius"] = _number(p.get("epsilon_radius")) if isinstance(p, dict) else None
        if e.get("event") == "document.ingest":
            card["documents_stored"], card["documents_blocked"] = ingest_counts(e)
        cards.setdefault(rid, card)  # a request has one entry; a second one (never expected) is not hidden
        if cards[rid] is not card:
            cards[f"{rid}#{index}"] = card
    return list(cards.values())


def generated_now() -> datetime:
    return datetime.now(UTC)
