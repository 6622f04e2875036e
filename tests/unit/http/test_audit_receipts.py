"""Receipts match a checkpoint: inclusion proofs default to the latest signed size, not the current one."""

from __future__ import annotations

import base64

from audit.checkpoint import verify_checkpoint
from audit.merkle import leaf_hash, verify_inclusion
from tests.unit.http.conftest import App


def test_when_no_tree_size_is_given_then_the_inclusion_proof_matches_the_latest_signed_checkpoint(app: App) -> None:
    auditor = app.auth(app.key("acme", "olga", "auditor"))
    note = app.client.get("/v1/audit/checkpoint", headers=auditor).text
    cp = verify_checkpoint(note, app.services.keys.audit_public_key)
    assert app.services.audit_log.size() > cp.size  # reading the checkpoint was itself audited, after signing
    r = app.client.get("/v1/audit/proofs/inclusion", params={"index": cp.size - 1}, headers=auditor)
    assert r.status_code == 200, r.text
    proof = r.json()
    assert proof["tree_size"] == cp.size
    leaf = base64.b64decode(proof["entry"])
    assert verify_inclusion(cp.size - 1, cp.size, leaf_hash(leaf), [bytes.fromhex(p) for p in proof["proof"]], cp.root)


def test_when_an_entry_is_newer_than_the_signed_checkpoint_then_404_says_how_to_get_one(app: App) -> None:
    auditor = app.auth(app.key("acme", "olga", "auditor"))
    cp = verify_checkpoint(app.client.get("/v1/audit/checkpoint", headers=auditor).text,
                           app.services.keys.audit_public_key)  # fmt: skip
    r = app.client.get("/v1/audit/proofs/inclusion", params={"index": cp.size}, headers=auditor)
    assert r.status_code == 404 and "latest signed checkpoint" in r.json()["detail"]
