"""Witnesses against the real gateway: cosigned checkpoints, a consumer proving its receipt, and the rewrite of
issue 19 (entry edited, leaf hash recomputed, checkpoints emptied, restart) caught twice: the gateway refuses to
start, and once the guard file is gone too (an attacker holding the host), the witness refuses to cosign."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from audit.canonical import canonical_json
from audit.merkle import leaf_hash
from tests.integration.server import BIN, PII_IN_PROCESS, GatewayProcess, free_port

pytestmark = pytest.mark.slow
MODEL = "all-MiniLM-L6-v2"
ORIGIN = "governed-embedding-gateway"


def audit_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "gateway-audit"), *args], capture_output=True, text=True, timeout=120, check=False)


@dataclass
class Setup:
    gw: GatewayProcess
    witness_dir: Path
    vkey: str
    writer: str
    auditor: str

    @property
    def pub(self) -> str:
        return str(self.gw.keys_dir / "audit_ed25519.pub")


def start_witness(folder: Path, public_key: Path, port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [str(BIN / "gateway-audit"), "witness", "serve", "--dir", str(folder), "--port", str(port),
         "--log", f"{ORIGIN}={public_key}"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    assert "serving POST" in proc.stdout.readline()
    return proc


def witnessed_gateway(root: Path, name: str) -> tuple[GatewayProcess, Path, str, subprocess.Popen[str]]:
    """A gateway prepared (not started) under ``root`` with a witness named ``name`` running and configured: the
    gateway, the witness's directory (on the auditor's machine, in practice), its verifier key and its process."""
    gw = GatewayProcess(root / "gw", env=dict(PII_IN_PROCESS))
    gw.prepare()
    witness_dir = root / "witness"
    init = audit_cli("witness", "init", "--dir", str(witness_dir), "--name", name)
    assert init.returncode == 0, init.stderr
    vkey = init.stdout.strip()
    port = free_port()
    witness = start_witness(witness_dir, gw.keys_dir / "audit_ed25519.pub", port)
    gw.env["GATEWAY_AUDIT_WITNESSES"] = f"http://127.0.0.1:{port}={vkey}"
    return gw, witness_dir, vkey, witness


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = Path(tmp_path_factory.mktemp("witnessed"))
    gw, witness_dir, vkey, witness = witnessed_gateway(root, "witness.auditor.test/w1")
    try:
        gw.start()
        writer = gw.make_key("acme", "alice", "writer")
        auditor = gw.make_key("platform", "pat", "platform-auditor")  # verify --url reads every tenant's entries
        yield Setup(gw, witness_dir, vkey, writer, auditor)
    finally:
        gw.stop()
        witness.send_signal(signal.SIGTERM)
        witness.wait(10)


def blocked_request(s: Setup) -> int:
    r = httpx.post(s.gw.url + "/v1/embeddings", headers={"Authorization": f"Bearer {s.writer}"},
                   json={"model": MODEL, "input": "My SSN is 078-05-1120."}, timeout=60)  # fmt: skip
    assert r.status_code == 422, r.text
    return int(r.headers["X-Gateway-Audit-Index"])


def test_when_a_consumer_proves_its_receipt_then_one_command_checks_the_cosigned_checkpoint(
    setup: Setup, tmp_path: Path
) -> None:
    index = blocked_request(setup)
    kept = tmp_path / "kept.checkpoint"
    proved = audit_cli("prove", "--url", setup.gw.url, "--api-key", setup.writer, "--index", str(index),
                       "--public-key", setup.pub, "--witness-key", setup.vkey,
                       "--checkpoint-out", str(kept))  # fmt: skip
    assert proved.returncode == 0, proved.stderr
    assert proved.stdout.startswith(f"OK: entry {index} is in the signed log"), proved.stdout
    assert "decision block" in proved.stdout and "1 cosigned (witness.auditor.test/w1)" in proved.stdout
    assert "\u2014 witness.auditor.test/w1 " in kept.read_text()
    blocked_request(setup)
    again = audit_cli("prove", "--url", setup.gw.url, "--api-key", setup.writer, "--index", str(index),
                      "--public-key", setup.pub, "--witness-key", setup.vkey, "--previous", str(kept))  # fmt: skip
    assert again.returncode == 0 and "extends the previous checkpoint" in again.stdout, again.stderr
    verified = audit_cli("verify", "--url", setup.gw.url, "--api-key", setup.auditor, "--public-key", setup.pub,
                         "--witness-key", str(setup.witness_dir / "witness.vkey"))  # fmt: skip
    assert verified.returncode == 0 and "cosigned by 1 of 1 witnesses" in verified.stdout, verified.stderr
    log, cp = tmp_path / "log.jsonl", tmp_path / "cp.txt"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # the newest checkpoint is cosigned within a round trip of its signing
        exported = audit_cli("export", "--data-dir", str(setup.gw.data_dir), "--out", str(log),
                             "--checkpoint-out", str(cp))  # fmt: skip
        assert exported.returncode == 0, exported.stderr
        if "witness.auditor.test/w1" in cp.read_text():
            break
        time.sleep(0.5)
    offline = audit_cli("verify", "--log", str(log), "--checkpoint", str(cp), "--public-key", setup.pub,
                        "--witness-key", setup.vkey)  # fmt: skip
    assert offline.returncode == 0 and "cosigned by 1 of 1" in offline.stdout, offline.stdout + offline.stderr


def test_when_another_tenants_receipt_is_asked_then_the_server_explanation_is_shown(setup: Setup) -> None:
    other = setup.gw.make_key("globex", "gary", "writer")
    index = blocked_request(setup)
    denied = audit_cli("prove", "--url", setup.gw.url, "--api-key", other, "--index", str(index),
                       "--public-key", setup.pub)  # fmt: skip
    assert denied.returncode == 1 and "HTTP 403" in denied.stderr and "own tenant" in denied.stderr, denied.stderr


def rewrite_block_to_allow(data_dir: Path) -> int:
    """The rewrite of issue 19, done with write access to the database only."""
    db = sqlite3.connect(data_dir / "audit.db")
    rows = db.execute("SELECT idx, leaf FROM entries ORDER BY idx").fetchall()
    idx, leaf = next((i, bytes(v)) for i, v in rows if json.loads(v).get("decision") == "block")
    entry = json.loads(leaf)
    entry["decision"] = "allow"
    forged = canonical_json(entry)
    db.execute("UPDATE entries SET leaf = ?, leaf_hash = ? WHERE idx = ?", (forged, leaf_hash(forged), idx))
    db.execute("DELETE FROM checkpoints")
    db.commit()
    db.close()
    return int(idx)


def test_when_history_is_rewritten_then_the_gateway_refuses_to_start_and_the_witness_refuses_to_cosign(
    setup: Setup, tmp_path: Path
) -> None:
    index = blocked_request(setup)
    kept = tmp_path / "kept.checkpoint"
    assert audit_cli("prove", "--url", setup.gw.url, "--api-key", setup.writer, "--index", str(index),
                     "--public-key", setup.pub, "--checkpoint-out", str(kept)).returncode == 0  # fmt: skip
    setup.gw.stop()
    rewrite_block_to_allow(setup.gw.data_dir)

    with pytest.raises(RuntimeError, match="history was rewritten"):
        setup.gw.start()

    (setup.gw.keys_dir / "audit_published.checkpoint").unlink()  # whoever holds the host can remove this too
    setup.gw.start()
    r = httpx.get(setup.gw.url + "/v1/audit/checkpoint", headers={"Authorization": f"Bearer {setup.auditor}"})
    assert r.status_code == 200 and "witness.auditor.test/w1" not in r.text  # signed, but not cosigned
    failed = audit_cli("verify", "--url", setup.gw.url, "--api-key", setup.auditor, "--public-key", setup.pub,
                       "--witness-key", setup.vkey)  # fmt: skip
    assert failed.returncode == 1 and "0 valid witness cosignature" in failed.stderr, failed.stdout + failed.stderr
    deadline = time.monotonic() + 20
    while "AUDIT ALARM" not in setup.gw.log_path.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "AUDIT ALARM" in setup.gw.log_path.read_text()
    # 422: the proof from the witness's size fails; 409: a checkpoint of that very size has another root
    assert json.loads((setup.gw.keys_dir / "audit_signing_held.json").read_text())["status"] in (409, 422)
    metrics = httpx.get(setup.gw.url + "/metrics").text
    assert "gateway_audit_signing_held 1.0" in metrics
    assert 'gateway_audit_witness_refusals_total{witness="witness.auditor.test/w1"} 1.0' in metrics
    stale = audit_cli("prove", "--url", setup.gw.url, "--api-key", setup.writer, "--index", str(index),
                      "--public-key", setup.pub, "--previous", str(kept))  # fmt: skip
    assert stale.returncode == 1 and "not an extension of the previous checkpoint" in stale.stderr, stale.stderr
    refused = list((setup.witness_dir / "refused").iterdir())
    assert len(refused) == 1  # the witness kept the signed evidence of the second history


def test_when_a_command_writes_while_the_gateway_is_stopped_then_its_checkpoint_is_cosigned(tmp_path: Path) -> None:
    """An operator's command (here key management) with the gateway down: its last checkpoint is offered to the
    witnesses before the command exits, so that an export verifies against them (it failed until the gateway's
    next checkpoint); a witness that is down gets a warning, and the command still does its work."""
    gw, _, vkey, witness = witnessed_gateway(tmp_path, "witness.auditor.test/w2")
    log, cp, pub = tmp_path / "log.jsonl", tmp_path / "cp.txt", str(gw.keys_dir / "audit_ed25519.pub")
    try:
        created = gw.cli("apikey", "create", "--tenant", "acme", "--subject", "ops", "--role", "writer")
        assert "warning" not in created.stderr, created.stderr
        key_id = created.stdout.split()[3]
        revoked = gw.cli("apikey", "revoke", key_id)  # a second command: its checkpoint extends the first one's
        assert "warning" not in revoked.stderr, revoked.stderr
        exported = audit_cli("export", "--data-dir", str(gw.data_dir), "--out", str(log), "--checkpoint-out", str(cp))
        assert exported.returncode == 0, exported.stderr
        verified = audit_cli("verify", "--log", str(log), "--checkpoint", str(cp), "--public-key", pub,
                             "--witness-key", vkey)  # fmt: skip
        assert verified.returncode == 0 and "cosigned by 1 of 1" in verified.stdout, verified.stdout + verified.stderr
    finally:
        witness.send_signal(signal.SIGTERM)
        witness.wait(10)
    unwitnessed = gw.cli("apikey", "create", "--tenant", "acme", "--subject", "ops2", "--role", "reader")
    assert unwitnessed.returncode == 0 and "no witness cosigned" in unwitnessed.stderr, unwitnessed.stderr
    assert unwitnessed.stdout.strip().splitlines()[-1].startswith("gk_")  # the key was made all the same
