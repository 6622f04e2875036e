"""``gateway-audit prove`` (one receipt, checked end to end) and the CLI's messages, against a fake gateway."""

from __future__ import annotations

import base64
import json
import os
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from audit import cli
from audit.checkpoint import parse_checkpoint
from audit.cosign import WitnessKey, add_cosignatures, cosign
from audit.errors import AuditError, CheckpointError, VerificationError
from audit.keys import Ed25519PrivateKey, load_public_key
from audit.prove import prove_receipt
from audit.remote import GatewayClient, server_explanation
from audit.sqlite_log import SQLiteAuditLog

WITNESS_KEY = Ed25519PrivateKey.from_private_bytes(bytes([5]) * 32)
WITNESS = WitnessKey("witness.test/w1", WITNESS_KEY.public_key())


def fake_gateway(log: SQLiteAuditLog, cosigned: bool = True, tamper: bool = False) -> Callable[..., bytes]:
    """Serves the audit routes from a real log, as the gateway does (optionally lying about the entry)."""

    def fetch(url: str, headers: Mapping[str, str]) -> bytes:
        parts = urllib.parse.urlsplit(url)
        q = {k: int(v[0]) for k, v in urllib.parse.parse_qs(parts.query).items()}
        if parts.path == "/v1/audit/checkpoint":
            note = log.checkpoint_now()
            if cosigned:
                body = parse_checkpoint(note).body
                note = add_cosignatures(note, cosign(body, WITNESS_KEY, WITNESS.name, 1_700_000_000), WITNESS)
            return note.encode()
        if parts.path == "/v1/audit/proofs/inclusion":
            leaf = log.entries(q["index"], q["index"] + 1)[0]
            if tamper:
                leaf = leaf.replace(b'"allow"', b'"block"')
            proof = log.inclusion_proof(q["index"], q["tree_size"])
            return json.dumps({"entry": base64.b64encode(leaf).decode(), "proof": [p.hex() for p in proof]}).encode()
        if parts.path == "/v1/audit/proofs/consistency":
            return json.dumps({"proof": [p.hex() for p in log.consistency_proof(q["first"], q["second"])]}).encode()
        raise AssertionError(url)

    return fetch


@pytest.fixture
def log(open_log: Callable[..., SQLiteAuditLog]) -> SQLiteAuditLog:
    log = open_log()
    for i in range(7):
        log.append({"v": 1, "event": "embeddings.create", "decision": "allow", "request_id": f"r{i}"})
    return log


def test_when_a_receipt_is_in_the_cosigned_log_then_it_is_proven(log: SQLiteAuditLog, public_key_file: Path) -> None:
    client = GatewayClient("http://gw", "k", fetch=fake_gateway(log))
    receipt = prove_receipt(client, 3, load_public_key(public_key_file), [WITNESS], 1)
    assert receipt.entry["request_id"] == "r3" and receipt.checkpoint.size == 7
    assert receipt.cosigned_by == (WITNESS,)


def test_when_the_gateway_serves_an_altered_entry_then_the_proof_fails(
    log: SQLiteAuditLog, public_key_file: Path
) -> None:
    client = GatewayClient("http://gw", "k", fetch=fake_gateway(log, tamper=True))
    with pytest.raises(VerificationError, match="does not lead to the checkpoint's root"):
        prove_receipt(client, 3, load_public_key(public_key_file), [], 0)


def test_when_a_witness_cosignature_is_required_but_absent_then_the_proof_fails(
    log: SQLiteAuditLog, public_key_file: Path
) -> None:
    client = GatewayClient("http://gw", "k", fetch=fake_gateway(log, cosigned=False))
    with pytest.raises(CheckpointError, match="0 valid witness cosignature"):
        prove_receipt(client, 3, load_public_key(public_key_file), [WITNESS], 1)


def test_when_a_kept_checkpoint_is_given_then_the_log_must_extend_it(
    log: SQLiteAuditLog, public_key_file: Path
) -> None:
    client = GatewayClient("http://gw", "k", fetch=fake_gateway(log))
    kept = log.checkpoint_now()
    log.append({"v": 1, "event": "embeddings.create", "decision": "allow", "request_id": "r7"})
    receipt = prove_receipt(client, 7, load_public_key(public_key_file), [], 0, previous_text=kept)
    assert receipt.previous is not None and receipt.previous.size == 7 and receipt.checkpoint.size == 8


def test_when_the_server_explains_an_error_then_the_explanation_is_kept() -> None:
    assert server_explanation(b'{"status": 403, "detail": "a consumer may fetch proofs only for its own"}') == (
        "a consumer may fetch proofs only for its own"
    )
    assert server_explanation(b"unknown log origin\n") == "unknown log origin"


def test_when_the_gateway_cannot_be_reached_then_the_cli_says_so(
    public_key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["prove", "--url", "http://127.0.0.1:9", "--api-key", "k", "--index", "0", "--public-key",
            str(public_key_file)]  # fmt: skip
    assert cli.main(argv) == 1
    assert "cannot reach http://127.0.0.1:9" in capsys.readouterr().err


def test_when_a_file_is_missing_then_the_cli_names_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere.jsonl"
    argv = ["verify", "--log", str(missing), "--checkpoint", str(missing), "--public-key", str(missing)]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert f"cannot use {missing}" in err and "No such file" in err


def test_when_previous_and_checkpoint_are_swapped_then_the_cli_hints_at_it(
    log: SQLiteAuditLog, tmp_path: Path, public_key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    older = tmp_path / "older.txt"
    older.write_text(log.checkpoint_now())
    log.append({"v": 1, "event": "x", "decision": "allow"})
    newer = tmp_path / "newer.txt"
    newer.write_text(log.checkpoint_now())
    export = tmp_path / "log.jsonl"
    export.write_bytes(b"".join(e + b"\n" for e in log.entries(0, 7)))
    argv = ["verify", "--log", str(export), "--checkpoint", str(older), "--previous", str(newer), "--public-key",
            str(public_key_file)]  # fmt: skip
    assert cli.main(argv) == 1
    assert "look swapped" in capsys.readouterr().err


def test_when_a_checkpoint_line_is_broken_then_the_message_names_the_line(log: SQLiteAuditLog) -> None:
    note = log.checkpoint_now()
    with pytest.raises(CheckpointError, match=r"line 3"):
        parse_checkpoint(note.replace(note.split("\n")[2], "not base64!"))
    with pytest.raises(CheckpointError, match=r"\(line 6\)"):
        parse_checkpoint(note.rstrip("\n") + "\nnot a signature\n")


def test_when_quorum_exceeds_the_keys_then_the_cli_refuses(public_key_file: Path) -> None:
    args = cli._parser().parse_args(["prove", "--url", "http://x", "--api-key", "k", "--index", "0",
                                     "--public-key", str(public_key_file), "--witness-quorum", "1"])  # fmt: skip
    with pytest.raises(AuditError, match="--witness-quorum"), open(os.devnull, "w") as out:
        cli._run(args, out)
