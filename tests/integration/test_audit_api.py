"""The audit API and the auditor's CLI against the real gateway: receipts, proofs, export, verify, tamper."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import httpx
import pytest

from audit.checkpoint import Checkpoint, verify_checkpoint
from audit.keys import load_public_key
from audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from tests.integration.server import BIN, GatewayProcess

pytestmark = pytest.mark.slow
MODEL = "all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def keys(gateway: GatewayProcess) -> dict[str, str]:
    return {
        "auditor": gateway.make_key("acme", "olga", "auditor"),
        "platform": gateway.make_key("platform", "pat", "platform-auditor"),
        "writer": gateway.make_key("acme", "alice", "writer"),
        "other_writer": gateway.make_key("globex", "gary", "writer"),
        "reader": gateway.make_key("acme", "rita", "reader"),
    }


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def embed(gw: GatewayProcess, key: str, text: str) -> httpx.Response:
    r = httpx.post(gw.url + "/v1/embeddings", headers=auth(key), json={"model": MODEL, "input": text}, timeout=60)
    assert r.status_code == 200, r.text
    return r


def signed_checkpoint(gw: GatewayProcess, key: str) -> Checkpoint:
    r = httpx.get(gw.url + "/v1/audit/checkpoint", headers=auth(key))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return verify_checkpoint(r.text, load_public_key(gw.keys_dir / "audit_ed25519.pub"))


def audit_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "gateway-audit"), *args], capture_output=True, text=True, timeout=120, check=False)


def test_when_an_auditor_proves_a_writers_receipt_then_the_proof_verifies_against_the_signed_root(
    gateway: GatewayProcess, keys: dict[str, str]
) -> None:
    r = embed(gateway, keys["writer"], "Quarterly claims summary for the auditors")
    index = int(r.headers["X-Gateway-Audit-Index"])
    cp = signed_checkpoint(gateway, keys["auditor"])
    assert cp.size > index
    proof = httpx.get(gateway.url + "/v1/audit/proofs/inclusion", headers=auth(keys["auditor"]),
                      params={"index": index, "tree_size": cp.size}).json()
    leaf = base64.b64decode(proof["entry"])
    entry = json.loads(leaf)
    assert entry["request_id"] == r.headers["X-Request-Id"] and entry["event"] == "embeddings.create"
    assert verify_inclusion(index, cp.size, leaf_hash(leaf), [bytes.fromhex(p) for p in proof["proof"]], cp.root)
    page = httpx.get(gateway.url + "/v1/audit/entries", headers=auth(keys["auditor"]),
                     params={"start": index, "end": index + 1}).json()
    assert base64.b64decode(page["entries"][0]) == leaf


def test_when_the_log_grows_then_the_consistency_proof_links_the_two_checkpoints(
    gateway: GatewayProcess, keys: dict[str, str]
) -> None:
    old = signed_checkpoint(gateway, keys["auditor"])
    embed(gateway, keys["writer"], "A second request grows the log")
    new = signed_checkpoint(gateway, keys["auditor"])
    proof = httpx.get(gateway.url + "/v1/audit/proofs/consistency", headers=auth(keys["auditor"]),
                      params={"first": old.size, "second": new.size}).json()["proof"]
    assert new.size > old.size
    assert verify_consistency(old.size, new.size, old.root, new.root, [bytes.fromhex(p) for p in proof])


def test_when_a_writer_asks_for_proofs_then_only_its_own_tenants_receipts_are_served(
    gateway: GatewayProcess, keys: dict[str, str]
) -> None:
    mine = int(embed(gateway, keys["writer"], "acme's own request").headers["X-Gateway-Audit-Index"])
    theirs = int(embed(gateway, keys["other_writer"], "globex's request").headers["X-Gateway-Audit-Index"])
    cp = signed_checkpoint(gateway, keys["writer"])  # a consumer may fetch it; proofs default to its size
    own = httpx.get(gateway.url + "/v1/audit/proofs/inclusion", headers=auth(keys["writer"]), params={"index": mine})
    assert own.status_code == 200 and json.loads(base64.b64decode(own.json()["entry"]))["tenant"] == "acme"
    assert own.json()["tree_size"] >= cp.size  # the latest signed size (a periodic checkpoint may follow ours)
    foreign = httpx.get(gateway.url + "/v1/audit/proofs/inclusion", headers=auth(keys["writer"]),
                        params={"index": theirs})
    assert foreign.status_code == 403 and foreign.json()["code"] == "permission_denied"
    assert "entry" not in foreign.json()


def test_when_a_reader_or_writer_lists_entries_then_403_and_the_denial_has_a_receipt(
    gateway: GatewayProcess, keys: dict[str, str]
) -> None:
    for role in ("reader", "writer"):
        r = httpx.get(gateway.url + "/v1/audit/entries", headers=auth(keys[role]), params={"start": 0, "end": 5})
        assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
        assert int(r.headers["X-Gateway-Audit-Index"]) >= 0


def test_when_the_log_is_exported_then_it_verifies_offline_and_online_and_a_tampered_copy_fails(
    gateway: GatewayProcess, keys: dict[str, str], tmp_path: Path
) -> None:
    embed(gateway, keys["writer"], "Something to export")
    signed_checkpoint(gateway, keys["auditor"])  # a checkpoint covering everything so far
    log, cp = tmp_path / "log.jsonl", tmp_path / "cp.txt"
    pub = str(gateway.keys_dir / "audit_ed25519.pub")
    exported = audit_cli("export", "--data-dir", str(gateway.data_dir), "--out", str(log), "--checkpoint-out", str(cp))
    assert exported.returncode == 0, exported.stderr
    ok = audit_cli("verify", "--log", str(log), "--checkpoint", str(cp), "--public-key", pub)
    assert ok.returncode == 0 and ok.stdout.startswith("OK:"), ok.stderr
    online = audit_cli("verify", "--url", gateway.url, "--api-key", keys["platform"], "--public-key", pub,
                       "--previous", str(cp))
    assert online.returncode == 0 and "extends previous checkpoint" in online.stdout, online.stderr

    lines = log.read_bytes().split(b"\n")
    target = next(i for i, line in enumerate(lines) if b'"embeddings.create"' in line)
    lines[target] = lines[target].replace(b'"decision":"allow"', b'"decision":"deny"')
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_bytes(b"\n".join(lines))
    bad = audit_cli("verify", "--log", str(tampered), "--checkpoint", str(cp), "--public-key", pub)
    assert bad.returncode == 1 and "FAILED" in bad.stderr and "root mismatch" in bad.stderr
    report = tmp_path / "report.json"
    rep = audit_cli("report", "--framework", "nist-ai-rmf", "--log", str(log), "--checkpoint", str(cp),
                    "--public-key", pub, "--out", str(report), "--format", "json")
    assert rep.returncode == 0, rep.stderr
    evidence = json.loads(report.read_text())
    assert evidence["verification"]["status"] == "verified"
    acme_spend = [v for k, v in evidence["privacy"]["by_tenant_scope"].items() if k.startswith("acme/")]
    assert acme_spend and all(v["epsilon_radius"] is not None for v in acme_spend)  # MEASURE 2.10 reads the log
    assert "unspecified" not in evidence["denial_codes"] and evidence["denial_codes"].get("permission_denied")
    scoped = audit_cli("report", "--log", str(log), "--checkpoint", str(cp), "--public-key", pub,
                       "--out", str(report), "--format", "json", "--tenant", "globex")
    assert scoped.returncode == 0, scoped.stderr
    globex = json.loads(report.read_text())
    assert globex["evidence_cards"] and {c["tenant"] for c in globex["evidence_cards"]} == {"globex"}
    assert all(k.startswith("globex/") for k in globex["privacy"]["by_tenant_scope"])
