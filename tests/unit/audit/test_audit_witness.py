"""Witness cosigning (C2SP tlog-witness, tlog-cosignature): verifier keys, cosignatures and the witness's checks."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit.checkpoint import CheckpointSigner, parse_checkpoint
from audit.cosign import ALG_COSIGNATURE_V1, WitnessKey, add_cosignatures, cosign, parse_vkey, require_quorum
from audit.errors import AuditError, CheckpointError
from audit.keys import Ed25519PrivateKey, raw_public_key
from audit.merkle import leaf_hash
from audit.tree import MerkleTree
from audit.witness import REFUSED_DIR, STATE_FILE, Witness, init_witness
from audit.witness_server import WitnessServer

ORIGIN = "gateway.test/audit"


def tree_of(leaves: list[bytes]) -> MerkleTree:
    tree = MerkleTree()
    for leaf in leaves:
        tree.append(leaf_hash(leaf))
    return tree


def request(old: int, proof: list[bytes], note: str) -> bytes:
    lines = [f"old {old}", *(base64.b64encode(p).decode() for p in proof)]
    return ("\n".join(lines) + "\n\n" + note).encode()


@pytest.fixture
def log_signer() -> CheckpointSigner:
    return CheckpointSigner(Ed25519PrivateKey.from_private_bytes(bytes(range(32))), "gateway-audit")


@pytest.fixture
def witness(tmp_path: Path, log_signer: CheckpointSigner) -> Witness:
    init_witness(tmp_path / "w", "witness.test/w1")
    return Witness(tmp_path / "w", {ORIGIN: log_signer.public_key()}, clock=lambda: 1_700_000_000.0)


def leaves(n: int, tag: str = "e") -> list[bytes]:
    return [json.dumps({"i": i, "t": tag}).encode() for i in range(n)]


def test_when_a_vkey_is_written_then_it_parses_back_with_the_spec_key_id() -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes(32)).public_key()
    w = WitnessKey("witness.test/w1", key)
    expected_id = hashlib.sha256(b"witness.test/w1\n\x04" + raw_public_key(key)).digest()[:4]
    name, id_hex, material = w.vkey().split("+")
    assert (name, bytes.fromhex(id_hex)) == ("witness.test/w1", expected_id)
    assert base64.b64decode(material) == ALG_COSIGNATURE_V1 + raw_public_key(key)
    assert parse_vkey(w.vkey()) == w


@pytest.mark.parametrize(
    "bad", ["nameonly", "a+zz+AAAA", "a+00000000+" + base64.b64encode(b"\x01" + bytes(32)).decode()]
)
def test_when_a_vkey_is_malformed_or_not_a_cosignature_key_then_it_is_refused(bad: str) -> None:
    with pytest.raises(CheckpointError):
        parse_vkey(bad)


def test_when_the_key_id_does_not_match_then_the_vkey_is_refused() -> None:
    good = WitnessKey("w", Ed25519PrivateKey.from_private_bytes(bytes(32)).public_key()).vkey()
    name, _, material = good.split("+")
    with pytest.raises(CheckpointError, match="does not match"):
        parse_vkey(f"{name}+00000000+{material}")


def test_when_a_witness_cosigns_then_the_quorum_holds_and_a_changed_body_breaks_it(
    log_signer: CheckpointSigner,
) -> None:
    wkey = Ed25519PrivateKey.from_private_bytes(bytes([7]) * 32)
    witness = WitnessKey("witness.test/w1", wkey.public_key())
    note = log_signer.sign(ORIGIN, 3, bytes(32))
    cosigned = add_cosignatures(note, cosign(parse_checkpoint(note).body, wkey, witness.name, 1679315147), witness)
    assert require_quorum(cosigned, [witness], 1) == [witness]
    forged = cosigned.replace("\n3\n", "\n4\n", 1)
    with pytest.raises(CheckpointError, match="0 valid witness cosignature"):
        require_quorum(forged, [witness], 1)
    other = WitnessKey("witness.test/w2", Ed25519PrivateKey.from_private_bytes(bytes([8]) * 32).public_key())
    with pytest.raises(CheckpointError, match=r"missing: witness\.test/w2"):
        require_quorum(cosigned, [witness, other], 2)


def test_when_an_answer_holds_no_cosignature_of_the_witness_then_it_is_refused(log_signer: CheckpointSigner) -> None:
    wkey = Ed25519PrivateKey.from_private_bytes(bytes([7]) * 32)
    impostor = WitnessKey("witness.test/w1", Ed25519PrivateKey.from_private_bytes(bytes([9]) * 32).public_key())
    note = log_signer.sign(ORIGIN, 3, bytes(32))
    with pytest.raises(CheckpointError, match="no valid cosignature"):
        add_cosignatures(note, cosign(parse_checkpoint(note).body, wkey, "witness.test/w1", 1), impostor)


def test_when_initialised_then_the_key_is_private_and_never_overwritten(tmp_path: Path) -> None:
    key = init_witness(tmp_path / "w", "witness.test/w1")
    assert stat.S_IMODE((tmp_path / "w" / "witness.key").stat().st_mode) == 0o600
    assert parse_vkey((tmp_path / "w" / "witness.vkey").read_text()) == key
    with pytest.raises(AuditError, match="already exists"):
        init_witness(tmp_path / "w", "witness.test/w1")


def test_when_the_log_grows_then_the_witness_cosigns_each_extension(
    witness: Witness, log_signer: CheckpointSigner, tmp_path: Path
) -> None:
    entries = leaves(10)
    first = tree_of(entries[:4])
    answer = witness.add_checkpoint(request(0, [], log_signer.sign(ORIGIN, 4, first.root())))
    assert answer.status == 200 and answer.body.startswith("\u2014 witness.test/w1 ")
    full = tree_of(entries)
    note = log_signer.sign(ORIGIN, 10, full.root())
    answer = witness.add_checkpoint(request(4, full.consistency_proof(4, 10), note))
    assert answer.status == 200
    assert require_quorum(add_cosignatures(note, answer.body, witness.key), [witness.key], 1)
    state = json.loads((tmp_path / "w" / STATE_FILE).read_text())["logs"][ORIGIN]
    assert state["size"] == 10 and base64.b64decode(state["root"]) == full.root()


def test_when_the_old_size_is_stale_then_409_names_the_witness_size(
    witness: Witness, log_signer: CheckpointSigner
) -> None:
    tree = tree_of(leaves(5))
    assert witness.add_checkpoint(request(0, [], log_signer.sign(ORIGIN, 3, tree.root(3)))).status == 200
    answer = witness.add_checkpoint(request(0, [], log_signer.sign(ORIGIN, 5, tree.root())))
    assert (answer.status, answer.body, answer.content_type) == (409, "3\n", "text/x.tlog.size")


def test_when_history_was_rewritten_then_the_witness_refuses_with_422_and_keeps_the_evidence(
    witness: Witness, log_signer: CheckpointSigner, tmp_path: Path
) -> None:
    honest = leaves(8)
    assert witness.add_checkpoint(request(0, [], log_signer.sign(ORIGIN, 8, tree_of(honest).root()))).status == 200
    rewritten = [*honest[:2], b'{"decision":"allow"}', *honest[3:], *leaves(2, "new")]
    tree = tree_of(rewritten)
    answer = witness.add_checkpoint(request(8, tree.consistency_proof(8, 10), log_signer.sign(ORIGIN, 10, tree.root())))
    assert answer.status == 422
    assert witness.size(ORIGIN) == 8
    assert len(list((tmp_path / "w" / REFUSED_DIR).iterdir())) == 1
    same_size = tree_of(rewritten[:8])
    assert witness.add_checkpoint(request(8, [], log_signer.sign(ORIGIN, 8, same_size.root()))).status == 409


def test_when_the_origin_is_unknown_or_the_signature_foreign_then_404_and_403(witness: Witness) -> None:
    stranger = CheckpointSigner(Ed25519PrivateKey.from_private_bytes(bytes([3]) * 32), "gateway-audit")
    assert witness.add_checkpoint(request(0, [], stranger.sign("other.test/log", 1, bytes(32)))).status == 404
    assert witness.add_checkpoint(request(0, [], stranger.sign(ORIGIN, 1, bytes(32)))).status == 403


@pytest.mark.parametrize("body", [b"", b"old 01\n\nx", b"new 1\n\nx", b"old 0\nnot-base64!\n\nx", b"old 0\n"])
def test_when_the_request_is_malformed_then_400(witness: Witness, body: bytes) -> None:
    assert witness.add_checkpoint(body).status == 400


def test_when_the_old_size_exceeds_the_checkpoint_then_400(witness: Witness, log_signer: CheckpointSigner) -> None:
    assert witness.add_checkpoint(request(5, [], log_signer.sign(ORIGIN, 3, bytes(32)))).status == 400


def test_when_the_witness_restarts_then_it_keeps_what_it_cosigned(
    witness: Witness, log_signer: CheckpointSigner, tmp_path: Path
) -> None:
    tree = tree_of(leaves(3))
    assert witness.add_checkpoint(request(0, [], log_signer.sign(ORIGIN, 3, tree.root()))).status == 200
    again = Witness(tmp_path / "w", {ORIGIN: log_signer.public_key()})
    assert again.size(ORIGIN) == 3
    assert again.add_checkpoint(request(0, [], log_signer.sign(ORIGIN, 3, tree.root()))).status == 409


@pytest.fixture
def served(witness: Witness) -> Iterator[str]:
    server = WitnessServer(("127.0.0.1", 0), witness)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_when_posted_over_http_then_the_witness_answers_per_the_spec(served: str, log_signer: CheckpointSigner) -> None:
    note = log_signer.sign(ORIGIN, 2, tree_of(leaves(2)).root())
    req = urllib.request.Request(served + "/add-checkpoint", data=request(0, [], note), method="POST")
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.status == 200 and r.read().decode().startswith("\u2014 witness.test/w1 ")
    with pytest.raises(urllib.error.HTTPError) as conflict:
        urllib.request.urlopen(req, timeout=5)
    assert conflict.value.code == 409 and conflict.value.headers["Content-Type"] == "text/x.tlog.size"
    assert conflict.value.read() == b"2\n"


def test_when_the_state_cannot_be_written_then_the_witness_neither_cosigns_nor_moves(
    witness: Witness, log_signer: CheckpointSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(*_: object, **__: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("audit.witness.write_atomically", disk_full)
    with pytest.raises(OSError):
        witness.add_checkpoint(request(0, [], log_signer.sign(ORIGIN, 2, tree_of(leaves(2)).root())))
    assert witness.size(ORIGIN) == 0
