"""``gateway.auditing.auditor``'s bounds on what an entry holds: the size cap, withheld strings, keyed digests, and the
window of unauthenticated failures (a fake clock; no app)."""

from __future__ import annotations

from typing import Any

from audit.canonical import canonical_json
from gateway.auditing.auditor import Auditor, RequestContext, UnauthenticatedFlood, fit
from tests.unit.auditing.audit_fakes import ListSink, test_secret


def _auditor(sink: ListSink, **kwargs: Any) -> Auditor:
    return Auditor(sink, test_secret, lambda: "2026-12-06T00:00:00Z",
                   **kwargs)


def test_when_an_entry_has_a_large_dict_then_it_is_withheld_and_the_core_stays() -> None:
    entry = {"v": 1, "event": "x", "decision": "allow", "tenant": "acme", "count": 3,
             "big": {f"k{i}": "v" * 100 for i in range(400)}, "small": 1}
    out = fit(entry, 4096)
    assert len(canonical_json(out)) <= 4096
    assert out["truncated"] == {"big": "withheld"} and "big" not in out and out["small"] == 1
    assert (out["event"], out["decision"], out["tenant"], out["count"]) == ("x", "allow", "acme", 3)


def test_when_an_entry_fits_then_it_is_unchanged() -> None:
    entry = {"v": 1, "event": "x", "decision": "allow", "items": list(range(10))}
    assert fit(entry, 4096) is entry


def test_when_fields_name_a_collection_or_document_then_only_keyed_digests_are_written() -> None:
    sink = ListSink()
    entry = _auditor(sink).entry("document.read", RequestContext("r", "GET /x", tenant="acme"), "allow",
                                 {"collection": "hr", "document_id": "jane@example.com", "note": "n" * 600})
    assert "collection" not in entry and "document_id" not in entry
    assert len(entry["collection_digest"]) == 32 and len(entry["document_digest"]) == 32
    assert entry["note"] == "<withheld: 600 characters>" and entry["truncated"] == {"note": "withheld"}
    other = _auditor(sink).entry("document.read", RequestContext("r", "GET /x", tenant="globex"), "allow",
                                 {"collection": "hr"})
    assert other["collection_digest"] != entry["collection_digest"]  # keyed per tenant


def test_when_the_window_ends_then_a_new_burst_is_admitted_and_the_old_counts_drain() -> None:
    now = [0.0]
    flood = UnauthenticatedFlood(2, 10.0, monotonic=lambda: now[0])
    assert [flood.admit("t0") for _ in range(3)] == [True, True, False]
    assert flood.count("auth.failure", "GET /v1/collections", "invalid_api_key") == 10.0
    assert flood.drain("t1") == []  # the window is still open
    now[0] = 10.5
    [drained] = flood.drain("t2")  # no refused key of a tenant: the one aggregate without a tenant
    assert drained["count"] == 1 and drained["window_start"] == "t0" and "tenant" not in drained
    assert flood.admit("t3") and flood.pending() is None
