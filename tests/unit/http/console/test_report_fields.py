"""Issue 19: the report reads the log right. Every field the report reads is in the event registry and the docs,
and the gateway really writes it: a renamed field fails here instead of reading "none recorded" in a report.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from audit.events import ENTRY_FIELDS, EVENT_TYPES, fields_table
from audit.report import build_report
from audit.report_sections import READS
from audit.verify import verify_log
from tests.unit.http.console.conftest import App

DOC = Path(__file__).resolve().parents[4] / "docs" / "nist-ai-rmf.md"
# Written by actions the in-process app does not run here; each has its own test, named beside it.
ELSEWHERE = {
    "reason": "tests/unit/http/test_policy_reload_audit.py",
    "what": "tests/unit/http/console/test_console_pages.py",
    "kek_version": "tests/unit/cli/test_cli_actor.py",
    "retired_kek_version": "tests/unit/cli/test_cli_actor.py",
    "old_version": "tests/unit/http/test_policy_reload_audit.py",
    "new_version": "tests/unit/http/test_policy_reload_audit.py",
    "changes": "tests/unit/http/test_policy_reload_audit.py",
    "actor": "tests/unit/cli/test_cli_actor.py",
}


def _get(entry: dict[str, Any], dotted: str) -> Any:
    value: Any = entry
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _entries(app: App) -> Iterator[dict[str, Any]]:
    for leaf in app.services.audit_log.entries(0, app.services.audit_log.size()):
        yield json.loads(leaf)


def _traffic(app: App) -> None:
    writer = app.key("acme", "wendy", "writer")
    auth = app.auth(writer)
    assert app.client.post("/v1/embeddings", json={"model": "all-MiniLM-L6-v2", "input": "hello"},
                           headers=auth).status_code == 200
    assert app.client.post("/v1/embeddings", json={"model": "all-MiniLM-L6-v2", "input": "ssn 078-05-1120"},
                           headers=auth).status_code == 422
    assert app.client.post("/v1/collections", json={"name": "kb", "model": "all-MiniLM-L6-v2"},
                           headers=auth).status_code == 201
    docs = [{"id": f"d{i}", "text": f"plain document {i}"} for i in range(3)]
    docs.append({"id": "d3", "text": "ssn 078-05-1120"})
    assert app.client.post("/v1/collections/kb/documents", json={"documents": docs}, headers=auth).status_code == 200
    assert app.client.get("/v1/audit/entries", headers=auth).status_code == 403


def test_when_the_report_reads_a_field_then_the_registry_and_the_docs_define_it() -> None:
    assert set(READS) <= set(ENTRY_FIELDS), set(READS) - set(ENTRY_FIELDS)
    assert fields_table() in DOC.read_text(encoding="utf-8"), "docs/nist-ai-rmf.md: paste audit.events.fields_table()"
    for field in ENTRY_FIELDS.values():
        assert set(field.events) <= set(EVENT_TYPES), field.name


def test_when_requests_are_audited_then_every_field_the_report_reads_is_written(app: App) -> None:
    _traffic(app)
    entries = list(_entries(app))
    for name in READS:
        field = ENTRY_FIELDS[name]
        if name in ELSEWHERE:
            continue
        writers = [e for e in entries if not field.events or e.get("event") in field.events]
        assert any(_get(e, name) is not None for e in writers), f"no entry carries {name} ({field.events})"


def test_when_the_report_reads_the_gateways_entries_then_privacy_denials_and_ingests_match(app: App) -> None:
    _traffic(app)
    leaves = app.services.audit_log.entries(0, app.services.audit_log.size())
    result = verify_log(leaves, app.services.audit_log.checkpoint_now(), app.services.keys.audit_public_key)
    report = build_report(leaves, result)
    spend = report["privacy"]["by_tenant_scope"]
    assert spend and all(v["epsilon_radius"] is not None for v in spend.values())  # MEASURE 2.10 reads it
    assert report["denial_codes"].get("pii_blocked") == 1 and report["denial_codes"].get("permission_denied") == 1
    assert "unspecified" not in report["denial_codes"]
    assert report["ingest"] == {"requests": 1, "documents_stored": 3, "documents_blocked": 1, "partial_requests": 1}
    assert report["by_decision"].get("partial") == 1
    assert report["noise"]["requests_with_noise"] == 2  # the allowed embedding and the ingest; not the blocked one
    requests = sum(1 for e in _entries(app) if "request_id" in e)
    app.services.auditor.record_sync("apikey.create", "allow", tenant="acme", subject="svc", key_id="0" * 16)
    leaves = app.services.audit_log.entries(0, app.services.audit_log.size())
    result = verify_log(leaves, app.services.audit_log.checkpoint_now(), app.services.keys.audit_public_key)
    assert sum(build_report(leaves, result)["by_decision"].values()) == requests  # a CLI action is no request


def test_when_the_docs_describe_subject_then_not_as_the_key_id() -> None:
    text = DOC.read_text(encoding="utf-8")
    row = re.search(r"^\| `subject` \|([^|]+)\|", text, re.M)
    assert row is not None and "API key id" not in row.group(1) and "never the key id" in row.group(1)


def test_when_documents_are_ingested_then_the_report_shows_the_collections_privacy_spend_by_digest(app: App) -> None:
    # Regression (auditor15): an ingest charged its collection's ledger scope (GET /v1/privacy/ledger showed it)
    # but its entry carried no privacy fields, so the report's privacy spend (MEASURE 2.10) left the scope out.
    _traffic(app)
    leaves = app.services.audit_log.entries(0, app.services.audit_log.size())
    result = verify_log(leaves, app.services.audit_log.checkpoint_now(), app.services.keys.audit_public_key)
    spend = build_report(leaves, result)["privacy"]["by_tenant_scope"]
    digest = app.services.auditor.digest("acme", "kb")
    assert set(spend) == {"acme/embeddings", f"acme/{digest}"}
    assert spend[f"acme/{digest}"]["releases_new"] == 3  # one chunk of each stored document
    [ingest] = [e for e in _entries(app) if e["event"] == "document.ingest"]
    assert ingest["privacy"]["scope"] == ingest["collection_digest"] == digest  # the name the caller chose: digested
    assert not any(b'"kb"' in leaf for leaf in leaves)
