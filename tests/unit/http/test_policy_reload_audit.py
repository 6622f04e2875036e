"""Issue 19: policy changes are reconstructable. Each version is archived by content and sealed (its hash is in the
signed log); a reload's entries carry the old and new versions and what changed, never values; a platform auditor
reads the archived text back; another tenant's changes stay out of a tenant's entries.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from audit.policy_archive import ARCHIVE_DIR, version_of
from tests.unit.http.conftest import App


def _write(path: Path, text: str, bump: float) -> None:
    path.write_text(text)
    later = time.time() + bump
    os.utime(path, (later, later))


def _reloads(app: App, since: int) -> list[dict[str, Any]]:
    size = app.services.audit_log.size()
    entries = [json.loads(x) for x in app.services.audit_log.entries(since, size)]
    return [e for e in entries if e["event"] == "policy.reload"]


def test_when_an_entity_action_changes_then_the_entry_has_both_versions_and_the_change_not_values(app: App) -> None:
    path = app.root / "policy" / "gateway.yaml"
    old_text = path.read_bytes()
    new_text = old_text.decode().replace("US_SSN: block", "US_SSN: redact").replace(
        'allow_list: ["Example Corp"]', 'allow_list: ["Example Corp", "Secret Partner Ltd"]')
    start = app.services.audit_log.size()
    _write(path, new_text, 5)
    app.services._reload_policies()
    reloads = _reloads(app, start)
    platform = next(e for e in reloads if e["tenant"] == "*")
    assert platform["decision"] == "allow" and platform["what"] == "gateway"
    assert platform["old_version"] == version_of(old_text) and platform["new_version"] == version_of(new_text.encode())
    assert {"path": "defaults.pii.entities.US_SSN", "change": "modified", "old": "block", "new": "redact"} in (
        platform["changes"])
    tenant = next(e for e in reloads if e["tenant"] == "example-corp")
    assert tenant["changes"] == [{"path": "pii.allow_list", "change": "modified", "items_added": 1,
                                  "items_removed": 0}]
    assert "Secret Partner" not in json.dumps(reloads) and "example-corp" not in json.dumps(platform)
    archive = app.root / "data" / ARCHIVE_DIR
    assert (archive / version_of(old_text).removeprefix("sha256:")).read_bytes() == old_text


def test_when_casbin_rules_change_then_roles_and_rules_added_and_removed_are_recorded(app: App) -> None:
    csv = app.root / "policy" / "policy.csv"
    old = csv.read_text()
    start = app.services.audit_log.size()
    _write(csv, old.replace("p, reader, *, pii, analyze\n", "") + "p, auditor, acme, privacy, read\n", 5)
    app.services._reload_policies()
    reloads = _reloads(app, start)
    platform = next(e for e in reloads if e["tenant"] == "*")
    assert platform["what"] == "casbin" and platform["old_version"] and platform["new_version"]
    assert platform["old_version"] != platform["new_version"]
    assert {"rule": ["p", "reader", "*", "pii", "analyze"], "change": "removed"} in platform["changes"]
    acme = next(e for e in reloads if e["tenant"] == "acme")
    assert acme["changes"] == [{"rule": ["p", "auditor", "acme", "privacy", "read"], "change": "added"}]


def test_when_a_broken_policy_is_refused_then_the_entry_names_the_version_kept_and_the_one_refused(app: App) -> None:
    path = app.root / "policy" / "gateway.yaml"
    kept = version_of(path.read_bytes())
    start = app.services.audit_log.size()
    _write(path, "defaults: [broken", 5)
    app.services._reload_policies()
    [refused] = _reloads(app, start)
    assert refused["decision"] == "deny" and refused["reason"]
    assert refused["old_version"] == kept and refused["new_version"] == version_of(b"defaults: [broken")


def test_when_a_platform_auditor_asks_for_a_version_then_the_archived_text_and_tampering_is_caught(app: App) -> None:
    path = app.root / "policy" / "gateway.yaml"
    version = version_of(path.read_bytes())
    key = app.key("platform", "pat", "platform-auditor")
    r = app.client.get(f"/v1/audit/policies/{version}", headers=app.auth(key))
    assert r.status_code == 200 and r.content == path.read_bytes()
    assert app.client.get(f"/v1/audit/policies/sha256:{'0' * 64}", headers=app.auth(key)).status_code == 404
    assert app.client.get("/v1/audit/policies/latest", headers=app.auth(key)).status_code == 400
    tenant_auditor = app.key("acme", "olga", "auditor")
    assert app.client.get(f"/v1/audit/policies/{version}", headers=app.auth(tenant_auditor)).status_code == 403
    stored = app.root / "data" / ARCHIVE_DIR / version.removeprefix("sha256:")
    stored.chmod(0o644)
    stored.write_bytes(stored.read_bytes().replace(b"US_SSN: block", b"US_SSN: allow"))
    assert app.client.get(f"/v1/audit/policies/{version}", headers=app.auth(key)).status_code == 503


def test_when_the_gateway_starts_then_both_versions_in_force_are_in_its_entry(app: App) -> None:
    entries = [json.loads(x) for x in app.services.audit_log.entries(0, app.services.audit_log.size())]
    start = next(e for e in entries if e["event"] == "gateway.start")
    assert start["event"] == "gateway.start" and start["casbin_version"].startswith("sha256:")
    assert app.services.policy_versions is not None
    assert app.services.policy_versions.archive.get(start["casbin_version"]).startswith(b"# model.conf\n")
    # and the spaCy pipeline that finds names: its name and version, and a digest over its files
    assert start["pii_pipeline"] == "en_core_web_md 3.8.0"
    assert start["pii_pipeline_sha256"].startswith("sha256:") and len(start["pii_pipeline_sha256"]) == 71
