"""The NIST AI RMF evidence report, computed from a verified log.

Everything here is derived from entries (never from the gateway), so an auditor can regenerate it from an
export. The verification outcome and signed root lead the report: evidence from an unverified log says
nothing. Render with :func:`audit.report_html.render_html` or serialize the dict as JSON.
"""

from __future__ import annotations

import base64
import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from audit.events import EVENT_TYPES, GENAI_RISKS, SUBCATEGORIES, events_for, events_for_risk
from audit.report_scope import TenantScope
from audit.verify import VerificationResult

FRAMEWORK = "NIST AI RMF 1.0"
DENIALS = ("deny", "block", "error")

# The aggregate sections most telling for each subcategory, beyond its mapped events' counts.
HIGHLIGHTS: dict[str, tuple[str, ...]] = {
    "GOVERN 1.4": ("policies", "by_decision"),
    "GOVERN 1.5": ("verification",),
    "GOVERN 1.6": ("models",),
    "MAP 1.5": ("policies", "noise"),
    "MAP 4.1": ("models",),
    "MAP 4.2": ("pii", "noise"),
    "MEASURE 2.1": ("models",),
    "MEASURE 2.4": ("by_decision", "denials"),
    "MEASURE 2.7": ("denials", "keys"),
    "MEASURE 2.8": ("verification",),
    "MEASURE 2.10": ("pii", "noise", "privacy"),
    "MEASURE 2.13": ("models",),
    "MANAGE 1.3": ("denial_reasons", "keys"),
    "MANAGE 2.4": ("keys", "models"),
    "MANAGE 3.2": ("models",),
    "MANAGE 4.1": ("denials",),
    "MANAGE 4.3": ("denials", "denial_reasons"),
}


def _parse(leaves: Sequence[bytes]) -> list[dict[str, Any]]:
    entries = []
    for leaf in leaves:
        try:
            obj = json.loads(leaf)
        except ValueError:
            obj = None
        entries.append(obj if isinstance(obj, dict) else {})
    return entries


def _verification(result: VerificationResult | None, failure: str | None) -> dict[str, Any]:
    if result is None:
        return {"status": "failed", "message": failure or "not verified"}
    cp = result.checkpoint
    return {
        "status": "verified",
        "message": "log matches the signed checkpoint",
        "origin": cp.origin,
        "size": result.size,
        "root_hex": result.root.hex(),
        "root_base64": base64.b64encode(result.root).decode(),
        "key_names": sorted({s.key_name for s in cp.signatures}),
        "previous_size": None if result.previous is None else result.previous.size,
    }


def _timeline(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts per decision per time bucket; hourly, or daily when the log spans more than two days."""
    times: list[tuple[datetime, str]] = []
    for e in entries:
        try:
            t = datetime.fromisoformat(str(e.get("time", "")).replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            continue
        times.append((t, str(e.get("decision", "unknown"))))
    if not times:
        return {"bucket": "hour", "buckets": []}
    span = max(t for t, _ in times) - min(t for t, _ in times)
    daily = span.total_seconds() > 2 * 86400
    fmt = "%Y-%m-%d" if daily else "%Y-%m-%dT%H:00Z"
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for t, decision in times:
        counts[t.strftime(fmt)][decision] += 1
    buckets = [{"start": k, "counts": dict(counts[k])} for k in sorted(counts)]
    return {"bucket": "day" if daily else "hour", "buckets": buckets}


def _versions(entries: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for e in entries:
        value = e.get(key)
        if value is None:
            continue
        label = json.dumps(value, sort_keys=True) if isinstance(value, dict) else str(value)
        row = seen.setdefault(label, {"value": value, "first_seen": e.get("time"), "count": 0})
        row["last_seen"], row["count"] = e.get("time"), row["count"] + 1
    return list(seen.values())


def _pii(entries: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for e in entries:
        pii = e.get("pii")
        if not isinstance(pii, dict):
            continue
        for entity, found in pii.items():
            if isinstance(found, dict):
                count = found.get("count", 1)
                table[str(entity)][str(found.get("action", "unknown"))] += count if isinstance(count, int) else 1
    return {k: dict(v) for k, v in sorted(table.items())}


def _numbers(entries: list[dict[str, Any]], get: Any) -> list[float]:
    values = []
    for e in entries:
        v = get(e)
        if isinstance(v, int | float) and not isinstance(v, bool):
            values.append(float(v))
    return values


def _privacy(entries: list[dict[str, Any]]) -> dict[str, Any]:
    spent: dict[str, float] = {}
    for e in entries:
        p = e.get("privacy")
        eps = p.get("epsilon_spent") if isinstance(p, dict) else None
        if isinstance(eps, int | float) and not isinstance(eps, bool):
            tenant = str(e.get("tenant"))
            spent[tenant] = max(spent.get(tenant, 0.0), float(eps))
    exceeded = sum(1 for e in entries if e.get("event") == "privacy.budget_exceeded")
    return {"epsilon_spent_max_by_tenant": spent, "budget_exceeded": exceeded}


def _keys(entries: list[dict[str, Any]]) -> dict[str, Any]:
    def rows(event: str, *fields: str) -> list[dict[str, Any]]:
        return [{f: e.get(f) for f in ("time", *fields)} for e in entries if e.get("event") == event]

    return {
        "rotations": rows("key.rotate", "key_version"),
        "rewraps": sum(1 for e in entries if e.get("event") == "key.rewrap"),
        "shreds": rows("tenant.shred", "tenant"),
        "integrity_failures": sum(1 for e in entries if e.get("event") == "crypto.integrity_failure"),
    }


def build_report(
    leaves: Sequence[bytes], result: VerificationResult | None, failure: str | None = None, tenant: str | None = None
) -> dict[str, Any]:
    """The report as a JSON-ready dict; ``failure`` is the verification error when ``result`` is None.

    ``tenant``: report on that tenant's entries and the platform-wide ones only (``audit.report_scope``).
    """
    scope = TenantScope(tenant)
    entries = [e for e in _parse(leaves) if scope.sees(e)]
    by_event = Counter(str(e.get("event")) for e in entries)
    by_decision = Counter(str(e.get("decision")) for e in entries)
    denials: dict[str, Counter[str]] = defaultdict(Counter)
    reasons: Counter[str] = Counter()
    for e in entries:
        if e.get("decision") in DENIALS:
            denials[str(e.get("event"))][str(e.get("decision"))] += 1
            reasons[str(e.get("reason", "unspecified"))] += 1
    sigmas = _numbers(entries, lambda e: e.get("noise_sigma"))
    sections: dict[str, Any] = {
        "verification": _verification(result, failure),
        "by_decision": dict(by_decision),
        "denials": {k: dict(v) for k, v in sorted(denials.items())},
        "denial_reasons": dict(reasons.most_common()),
        "pii": _pii(entries),
        "noise": {
            "requests_with_noise": len(sigmas),
            "sigma_values": dict(Counter(str(s) for s in sigmas)),
            "sigma_min": min(sigmas, default=None),
            "sigma_max": max(sigmas, default=None),
        },
        "privacy": _privacy(entries),
        "keys": _keys(entries),
        "models": _versions(entries, "model"),
        "policies": _versions(entries, "policy_version"),
    }
    times = sorted(str(e["time"]) for e in entries if isinstance(e.get("time"), str))
    return {
        "framework": FRAMEWORK,
        "scope": {"tenant": tenant or "*"},
        "summary": {
            "entries": len(entries),
            "first_time": times[0] if times else None,
            "last_time": times[-1] if times else None,
            "by_event": dict(by_event.most_common()),
        },
        **sections,
        "timeline": _timeline(entries),
        "subcategories": [_evidence(sid, title, entries, by_event, sections) for sid, title in SUBCATEGORIES.items()],
        "genai_risks": [
            {"risk": r, "events": {n: by_event[n] for n in events_for_risk(r) if by_event[n]}} for r in GENAI_RISKS
        ],
        "unmapped_events": {k: v for k, v in by_event.items() if k not in EVENT_TYPES},
    }


def _evidence(
    sid: str, title: str, entries: list[dict[str, Any]], by_event: Counter[str], sections: dict[str, Any]
) -> dict[str, Any]:
    names = events_for(sid)
    mine = [e for e in entries if e.get("event") in names]
    return {
        "id": sid,
        "title": title,
        "mapped_events": list(names),
        "events": {n: by_event[n] for n in names if by_event[n]},
        "entries": len(mine),
        "decisions": dict(Counter(str(e.get("decision")) for e in mine)),
        "highlights": {k: sections[k] for k in HIGHLIGHTS.get(sid, ())},
    }
