"""Issue 17: a tenant's auditor and admin read their own tenant's audit entries only; a platform auditor all.

Every audit and console route is tried by an acme auditor (and an acme admin) after globex traffic; none may
show a globex entry's content. Withheld entries still give their leaf hashes, so the root can be recomputed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

import pytest

from audit.merkle import verify_inclusion
from audit.tree import MerkleTree
from tests.unit.http.console.conftest import App

GLOBEX_SUBJECT = "globex-secret-subject"


def _traffic(app: App) -> dict[str, int]:
    """One embedding per tenant; returns the audit index of each."""
    out = {}
    for tenant, subject in (("acme", "acme-writer"), ("globex", GLOBEX_SUBJECT)):
        key = app.key(tenant, subject, "writer")
        r = app.client.post("/v1/embeddings", json={"model": "all-MiniLM-L6-v2", "input": "hello"},
                            headers=app.auth(key))
        assert r.status_code == 200
        out[tenant] = int(r.headers["X-Gateway-Audit-Index"])
    return out


def _entries(app: App, key: str) -> dict[str, Any]:
    size = app.services.audit_log.size()
    r = app.client.get("/v1/audit/entries", params={"start": 0, "end": size}, headers=app.auth(key))
    assert r.status_code == 200
    return dict(r.json())


def _signin(app: App, key: str) -> None:
    r = app.client.post("/console/signin", data={"api_key": key}, follow_redirects=False)
    assert r.status_code == 303


@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_when_an_acme_auditor_reads_the_entries_then_no_globex_entry_only_its_leaf_hash(app: App, role: str) -> None:
    idx = _traffic(app)
    page = _entries(app, app.key("acme", "olga", role))
    shown = {i: json.loads(base64.b64decode(e)) for i, e in enumerate(page["entries"]) if e is not None}
    assert idx["acme"] in shown and idx["globex"] not in shown
    assert all(e.get("tenant") in ("acme", "*", None) for e in shown.values())
    assert GLOBEX_SUBJECT not in json.dumps(page)
    withheld = {w["index"]: w["leaf_hash"] for w in page["withheld"]}
    assert idx["globex"] in withheld
    tree = MerkleTree()  # the leaf hashes of withheld entries are enough to recompute the root
    for i, e in enumerate(page["entries"]):
        leaf_hash = bytes.fromhex(withheld[i]) if e is None else hashlib.sha256(b"\0" + base64.b64decode(e)).digest()
        tree.append(leaf_hash)
    assert tree.root() == app.services.audit_log.root(page["end"])


def _sign_checkpoint(app: App, key: str) -> None:
    """Proofs default to the latest signed size: fetching the checkpoint signs one over every entry so far."""
    assert app.client.get("/v1/audit/checkpoint", headers=app.auth(key)).status_code == 200


def test_when_an_acme_auditor_asks_for_a_globex_proof_then_403_and_its_own_proof_verifies(app: App) -> None:
    idx = _traffic(app)
    key = app.key("acme", "olga", "auditor")
    _sign_checkpoint(app, key)
    r = app.client.get("/v1/audit/proofs/inclusion", params={"index": idx["globex"]}, headers=app.auth(key))
    assert r.status_code == 403 and GLOBEX_SUBJECT not in r.text
    own = app.client.get("/v1/audit/proofs/inclusion", params={"index": idx["acme"]}, headers=app.auth(key)).json()
    proof = [bytes.fromhex(p) for p in own["proof"]]
    root = app.services.audit_log.root(own["tree_size"])
    assert verify_inclusion(own["index"], own["tree_size"], bytes.fromhex(own["leaf_hash"]), proof, root)


def test_when_an_acme_auditor_uses_the_console_then_no_globex_row_entry_or_report_line(app: App) -> None:
    idx = _traffic(app)
    _signin(app, app.key("acme", "olga", "auditor"))
    listing = app.client.get("/console/entries").text
    rows = {int(i) for i in re.findall(r"<tr><td><a href='/console/entries/(\d+)'>", listing)}
    assert idx["acme"] in rows and idx["globex"] not in rows and GLOBEX_SUBJECT not in listing
    assert "globex" not in app.client.get("/console/entries", params={"tenant": "globex"}).text.split("<table")[1]
    denied = app.client.get(f"/console/entries/{idx['globex']}")
    assert denied.status_code == 403 and GLOBEX_SUBJECT not in denied.text
    for path in ("/console/report.json", "/console/report.html"):
        body = app.client.get(path).text
        assert "globex" not in body and GLOBEX_SUBJECT not in body, path
    report = app.client.get("/console/report.json").json()
    assert report["scope"]["tenant"] == "acme" and report["verification"]["status"] == "verified"
    assert report["summary"]["by_event"]["embeddings.create"] == 1  # acme's only, globex's left out


def test_when_a_platform_auditor_reads_then_both_tenants_show_everywhere(app: App) -> None:
    idx = _traffic(app)
    key = app.key("platform", "pat", "platform-auditor")
    page = _entries(app, key)
    assert page["withheld"] == [] and None not in page["entries"]
    _sign_checkpoint(app, key)
    r = app.client.get("/v1/audit/proofs/inclusion", params={"index": idx["globex"]}, headers=app.auth(key))
    assert r.status_code == 200
    _signin(app, key)
    listing = app.client.get("/console/entries").text
    assert GLOBEX_SUBJECT in listing and "acme-writer" in listing
    assert app.client.get(f"/console/entries/{idx['globex']}").status_code == 200
    report = app.client.get("/console/report.json").json()
    assert report["scope"]["tenant"] == "*" and report["summary"]["by_event"]["embeddings.create"] == 2


def test_when_a_platform_auditor_role_is_given_in_an_ordinary_tenant_then_it_reads_that_tenant_only(
    app: App,
) -> None:
    idx = _traffic(app)
    page = _entries(app, app.key("acme", "mallory", "platform-auditor"))
    assert idx["globex"] in {w["index"] for w in page["withheld"]}
    assert GLOBEX_SUBJECT not in json.dumps(page)


def test_when_an_admin_of_the_platform_tenant_reads_then_it_is_not_a_platform_auditor(app: App) -> None:
    idx = _traffic(app)
    page = _entries(app, app.key("platform", "root", "admin"))
    assert idx["globex"] in {w["index"] for w in page["withheld"]}


def test_when_platform_wide_events_are_recorded_then_a_tenant_auditor_sees_them(app: App) -> None:
    reload_index = app.services.auditor.record_sync("policy.reload", "allow", tenant="*", what="casbin")
    page = _entries(app, app.key("acme", "olga", "auditor"))
    assert page["entries"][reload_index] is not None
    assert page["entries"][0] is not None  # gateway.start


def test_when_audit_api_numbers_are_not_plain_ascii_digits_then_400_audited_as_invalid(app: App) -> None:
    key = app.key("acme", "olga", "auditor")
    for params in ({"start": "\u00b2"}, {"start": "1" * 27}, {"start": "1_0"}, {"start": " 1"}, {"end": "-1"}):
        r = app.client.get("/v1/audit/entries", params=params, headers=app.auth(key))
        assert r.status_code == 400, params
        index = int(r.headers["X-Gateway-Audit-Index"])
        assert json.loads(app.services.audit_log.entries(index, index + 1)[0])["event"] == "request.invalid"
