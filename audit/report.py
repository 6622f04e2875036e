"""The evidence report (NIST AI RMF 1.0, EU AI Act Art. 12/19, ISO/IEC 42001 A.6.2.8), computed from a verified log.

Everything here is derived from entries (never from the gateway), so an auditor can regenerate it from an
export. The report opens with a summary: its scope (tenant, time range), when and by which tool version it was
made, the hashes of its inputs, the verification outcome and one line per control of the framework (its
evidence, or "none"), with the framework's controls this gateway does not cover listed as such. Evidence from an
unverified log proves nothing, so a report whose log failed verification holds only the summary and the failure.
Render with :mod:`audit.report_html` or :mod:`audit.report_csv`, or serialize the dict as JSON.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from importlib import metadata
from typing import Any

from audit import report_sections as sec
from audit.cosign import WitnessKey, cosigned_by
from audit.errors import CheckpointError
from audit.events import EVENT_TYPES, GENAI_RISKS, events_for_risk
from audit.report_frameworks import FRAMEWORKS, Control, Framework
from audit.report_scope import ReportScope, parse_leaf
from audit.verify import VerificationResult

FRAMEWORK = "NIST AI RMF 1.0"
TOOL = "gateway-audit"
NO_WITNESSES = "no witness keys given: history is vouched for by the gateway's signing key alone"
DIST = "governed-embedding-gateway"


def tool_version() -> str:
    try:
        return metadata.version(DIST)
    except metadata.PackageNotFoundError:
        return "unknown"


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


def witness_status(checkpoint: str | None, keys: list[WitnessKey], quorum: int) -> dict[str, Any]:
    """Which of the witnesses ``keys`` validly cosigned ``checkpoint`` and whether ``quorum`` of them did.

    ``quorum_met`` is None without keys: then only the gateway's own signing key vouches for the history.
    """
    if not keys:
        return {"keys": [], "quorum": 0, "cosigned": [], "quorum_met": None, "message": NO_WITNESSES}
    try:
        cosigned = [] if checkpoint is None else cosigned_by(checkpoint, keys)
    except CheckpointError:  # the verification names the fault; here it is only "no cosignature found"
        cosigned = []
    names = [w.name for w in cosigned]
    met = len(cosigned) >= quorum
    missing = [w.name for w in keys if w not in cosigned]
    message = (f"cosigned by {len(cosigned)} of the {len(keys)} witnesses given ({', '.join(names) or 'none'}); "
               f"quorum of {quorum} {'met' if met else 'NOT met'}")
    if missing:
        message += f" (missing: {', '.join(missing)})"
    return {"keys": [w.name for w in keys], "quorum": quorum, "cosigned": names, "quorum_met": met,
            "message": message}


def _inputs(leaves: Sequence[bytes], checkpoint: str | None) -> dict[str, Any]:
    """The log's hash is that of its export file (each leaf and a newline), so ``sha256sum log.jsonl`` matches."""
    log = hashlib.sha256()
    for leaf in leaves:
        log.update(leaf + b"\n")
    return {"log_sha256": log.hexdigest(), "log_entries": len(leaves),
            "checkpoint_sha256": None if checkpoint is None else hashlib.sha256(checkpoint.encode()).hexdigest()}


def build_report(
    leaves: Sequence[bytes],
    result: VerificationResult | None,
    failure: str | None = None,
    tenant: str | None = None,
    *,
    scope: ReportScope | None = None,
    framework: str = "nist-ai-rmf",
    checkpoint: str | None = None,
    now: datetime | None = None,
    witnesses: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The report as a JSON-ready dict; ``failure`` is the verification error when ``result`` is None.

    ``witnesses`` is :func:`witness_status` of the checkpoint (none given when omitted); a quorum not met must
    also be the ``failure``, as ``verify`` fails then.

    ``scope`` (or just ``tenant``) limits every section to that tenant's entries (and the platform-wide ones,
    ``audit.report_scope``) within its time range; the verification always covers the whole log.
    """
    fw = FRAMEWORKS[framework]
    scope = scope or ReportScope(tenant)
    moment = now or sec.generated_now()
    entries = [(i, e) for i, e in ((i, parse_leaf(leaf)) for i, leaf in enumerate(leaves)) if scope.sees(e)]
    verification = _verification(result, failure)
    times = sorted(str(e["time"]) for _, e in entries if isinstance(e.get("time"), str))
    by_event = Counter(str(e.get("event")) for _, e in entries)
    summary: dict[str, Any] = {
        "scope": scope.as_dict(),
        "generated_at": moment.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "tool": {"name": TOOL, "version": tool_version()},
        "inputs": _inputs(leaves, checkpoint),
        "verification": verification["status"],
        "witnesses": witnesses or witness_status(checkpoint, [], 0),
    }
    report: dict[str, Any] = {"framework": fw.name, "framework_key": fw.key, "scope": scope.as_dict(),
                              "summary": summary, "verification": verification}
    if result is None:  # nothing from an unverified log is evidence, not even how many entries of each event it has
        summary["controls"] = [{"id": c.id, "title": c.title, "evidence": "not assessed"} for c in fw.controls]
        summary["not_covered"] = list(fw.not_covered)
        return report
    summary.update({"entries": len(entries), "first_time": times[0] if times else None,
                    "last_time": times[-1] if times else None, "by_event": dict(by_event.most_common())})
    denial_table, codes = sec.denials(entries)
    sections: dict[str, Any] = {
        "verification": verification,
        "by_decision": sec.by_decision(entries),
        "denials": denial_table,
        "denial_codes": codes,
        "pii": sec.pii(entries),
        "noise": sec.noise(entries),
        "privacy": sec.privacy(entries),
        "ingest": sec.ingest(entries),
        "keys": sec.keys(entries),
        "models": sec.versions(entries, "model"),
        "policies": sec.versions(entries, "policy_version"),
        "policy_timeline": sec.policy_timeline(entries),
        "timeline": sec.timeline(entries),
        "retention": sec.retention(entries, moment),
    }
    controls = [_evidence(c, entries, by_event, sections) for c in fw.controls]
    summary["controls"] = [{"id": c["id"], "title": c["title"], "evidence": c["entries"] or "none"}
                           for c in controls]
    summary["not_covered"] = list(fw.not_covered)
    report.update(sections)
    report["controls"] = controls
    report["evidence_cards"] = sec.evidence_cards(entries, lambda i: leaves[i])
    report["unmapped_events"] = {k: v for k, v in by_event.items() if k not in EVENT_TYPES}
    if fw.key == "nist-ai-rmf":
        report["genai_risks"] = [
            {"risk": r, "events": {n: by_event[n] for n in events_for_risk(r) if by_event[n]}} for r in GENAI_RISKS
        ]
    return report


def _evidence(
    c: Control, entries: sec.Indexed, by_event: Counter[str], sections: dict[str, Any]
) -> dict[str, Any]:
    mine = [e for _, e in entries if e.get("event") in c.events]
    return {
        "id": c.id,
        "title": c.title,
        "mapped_events": list(c.events),
        "events": {n: by_event[n] for n in c.events if by_event[n]},
        "entries": len(mine),
        "decisions": dict(Counter(sec.request_decision(e) for e in mine)),
        "highlights": {k: sections[k] for k in c.sections},
    }


__all__ = ["FRAMEWORK", "NO_WITNESSES", "Framework", "build_report", "witness_status"]
