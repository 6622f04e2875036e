"""The event registry and the documented NIST AI RMF table list exactly the same mapping."""

from __future__ import annotations

import re
from pathlib import Path

from audit.events import EVENT_TYPES, GENAI_RISKS, SUBCATEGORIES, fields_table, markdown_table

DOC = Path(__file__).resolve().parents[3] / "docs" / "nist-ai-rmf.md"
GATEWAY_EVENTS = [
    "gateway.start",
    "gateway.stop",
    "policy.reload",
    "auth.failure",
    "auth.failure.aggregate",
    "authz.denied",
    "request.invalid",
    "embeddings.create",
    "model.list",
    "pii.analyze",
    "collection.create",
    "collection.delete",
    "collection.list",
    "document.ingest",
    "document.read",
    "document.delete",
    "collection.search",
    "crypto.integrity_failure",
    "audit.witness_refused",
    "key.rotate",
    "key.rewrap",
    "retention.purge",
    "tenant.shred",
    "apikey.create",
    "apikey.revoke",
    "apikey.rotate",
    "audit.read",
    "privacy.ledger.read",
    "usage.read",
    "privacy.budget_exceeded",
    "privacy.ledger.accepted",
    "model.register",
    "model.retire",
    "model.fingerprint_recorded",
    "model.fingerprint_mismatch",
    "model.fingerprint_restored",
    "collection.migrate",
    "drift.baseline",
    "drift.alert",
    "rate.limited",
    "overload.rejected",
    "privacy.protection_off",
    "write.unfinished",
    "job.created",
    "job.resumed",
    "job.cancelled",
    "job.completed",
    "file.upload",
    "file.read",
    "file.delete",
    "file.purge",
    "batch.create",
    "batch.read",
    "batch.cancel",
    "batch.lines",
    "job.read",
    "job.cancel",
]


def _doc_rows() -> dict[str, tuple[str, str]]:
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\| `([a-z_.]+)` \| [^|]+ \| ([^|]+) \| ([^|]+) \|$", line)
        if m:
            rows[m.group(1)] = (m.group(2).strip(), m.group(3).strip())
    return rows


def test_when_reading_doc_table_then_it_lists_exactly_the_registry_event_types() -> None:
    assert set(_doc_rows()) == set(EVENT_TYPES)


def test_when_reading_doc_table_then_each_row_has_the_registry_mapping() -> None:
    rows = _doc_rows()
    for name, event in EVENT_TYPES.items():
        assert rows[name] == (", ".join(event.subcategories), ", ".join(event.genai_risks) or "-"), name


def test_when_doc_embeds_the_generated_table_then_it_is_current() -> None:
    assert markdown_table() in DOC.read_text(encoding="utf-8")


def test_when_doc_embeds_the_field_reference_then_it_is_current() -> None:
    assert fields_table() in DOC.read_text(encoding="utf-8")


def test_when_listing_gateway_events_then_every_one_is_registered() -> None:
    assert set(GATEWAY_EVENTS) == set(EVENT_TYPES)


def test_when_mapping_events_then_every_subcategory_has_evidence_and_only_known_ones_are_used() -> None:
    used = {s for e in EVENT_TYPES.values() for s in e.subcategories}
    assert used == set(SUBCATEGORIES)
    assert {r for e in EVENT_TYPES.values() for r in e.genai_risks} == set(GENAI_RISKS)
