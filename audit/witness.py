"""A transparency-log witness (C2SP tlog-witness), run by an auditor on a machine the gateway's operators do not hold.

For each log it knows (origin -> the log's Ed25519 public key) it keeps the last checkpoint it cosigned, and
cosigns a new one only when a consistency proof shows the new tree extends that one. A log whose history was
rewritten cannot produce such a proof, so it cannot get a cosignature: verifiers who require cosignatures then
refuse its checkpoints. The check of the old size and the update of the state happen under one lock and the
state is on disk (temporary file, fsync, rename) before the cosignature leaves, as the spec requires.

Files in the witness directory:

    witness.key     Ed25519 private key (PKCS#8 PEM, 0600)
    witness.vkey    its verifier key line (public: give it to the gateway's operators and to verifiers)
    state.json      per origin: size, root and note of the last cosigned checkpoint
    refused/        checkpoints that were validly signed but did not extend the state: evidence of a rewrite
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.atomic import write_atomically
from audit.checkpoint import Checkpoint, parse_checkpoint, verify_checkpoint
from audit.cosign import WitnessKey, cosign, parse_vkey
from audit.errors import AuditError, CheckpointError
from audit.keys import Ed25519PublicKey, generate_private_key, load_private_key, private_key_pem
from audit.merkle import HASH_SIZE, verify_consistency

KEY_FILE, VKEY_FILE, STATE_FILE, REFUSED_DIR = "witness.key", "witness.vkey", "state.json", "refused"
MAX_PROOF_LINES = 63
SIZE_CONTENT_TYPE = "text/x.tlog.size"


def init_witness(folder: Path, name: str) -> WitnessKey:
    """Create a witness key in ``folder`` (never overwriting one); returns its verifier key."""
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise AuditError("witness name must be non-empty, without spaces or '+'")
    if (folder / KEY_FILE).exists():
        raise AuditError(f"{folder / KEY_FILE} already exists; a witness keeps its key (and its state) for ever")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = generate_private_key()
    write_atomically(folder / KEY_FILE, private_key_pem(key))
    witness = WitnessKey(name, key.public_key())
    write_atomically(folder / VKEY_FILE, (witness.vkey() + "\n").encode(), mode=0o644)
    return witness


@dataclass(frozen=True)
class Answer:
    """An HTTP answer to ``add-checkpoint``."""

    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


def _bad(status: int, why: str) -> Answer:
    return Answer(status, why + "\n")


def parse_request(body: bytes) -> tuple[int, list[bytes], str]:
    """The old size, the consistency proof and the checkpoint note of an add-checkpoint body."""
    text = body.decode("utf-8")
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise ValueError("the body needs an 'old <size>' line, proof lines, a blank line and the checkpoint")
    lines = head.split("\n")
    word, _, size_text = lines[0].partition(" ")
    decimal = size_text.isascii() and size_text.isdigit()  # str.isdigit() alone takes U+00B2 and U+0661
    if word != "old" or not decimal or (size_text != "0" and size_text.startswith("0")):
        raise ValueError("the first line must be 'old <size>' in decimal without leading zeroes")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise ValueError(f"at most {MAX_PROOF_LINES} consistency proof lines")
    proof: list[bytes] = []
    for line in lines[1:]:
        try:
            node = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("a consistency proof line is not base64") from None
        if len(node) != HASH_SIZE:
            raise ValueError("a consistency proof line is not a 32-byte hash")
        proof.append(node)
    return int(size_text), proof, note


class Witness:
    """The witness's state and its one operation, ``add_checkpoint``; thread-safe."""

    def __init__(
        self, folder: Path, logs: Mapping[str, Ed25519PublicKey], clock: Callable[[], float] = time.time
    ) -> None:
        self._folder = folder
        self._private = load_private_key(folder / KEY_FILE)
        self.key = parse_vkey((folder / VKEY_FILE).read_text(encoding="utf-8"))
        if self.key.public_key != self._private.public_key():
            raise AuditError(f"{VKEY_FILE} does not match {KEY_FILE} in {folder}")
        self._logs = dict(logs)
        self._clock = clock
        self._lock = threading.Lock()
        self._state: dict[str, Any] = self._load_state()

    def _load_state(self) -> dict[str, Any]:
        path = self._folder / STATE_FILE
        if not path.exists():
            return {}
        try:
            state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))["logs"]
        except (ValueError, KeyError, TypeError) as exc:
            raise AuditError(f"{path} is not a witness state file") from exc
        return state

    def size(self, origin: str) -> int:
        """The size of the last checkpoint cosigned for ``origin`` (0 if none)."""
        with self._lock:
            return int(self._state.get(origin, {}).get("size", 0))

    def add_checkpoint(self, body: bytes) -> Answer:
        """Answer one add-checkpoint request (C2SP tlog-witness)."""
        try:
            old, proof, note = parse_request(body)
            cp = parse_checkpoint(note)
        except (ValueError, CheckpointError) as exc:
            return _bad(400, f"malformed request: {exc}")
        log_key = self._logs.get(cp.origin)
        if log_key is None:
            return _bad(404, "unknown log origin")
        try:
            verify_checkpoint(note, log_key)
        except CheckpointError:
            return _bad(403, "no valid signature by the log's key")
        if old > cp.size:
            return _bad(400, f"old size {old} is larger than the checkpoint's size {cp.size}")
        with self._lock:
            return self._check_and_cosign(old, proof, cp, note)

    def _check_and_cosign(self, old: int, proof: list[bytes], cp: Checkpoint, note: str) -> Answer:
        known = self._state.get(cp.origin)
        size = int(known["size"]) if known else 0
        if old != size:
            return Answer(409, f"{size}\n", SIZE_CONTENT_TYPE)
        root = base64.b64decode(known["root"]) if known else b""
        if old == cp.size and known and root != cp.root:
            self._keep_refused(cp, note)
            return Answer(409, f"{size}\n", SIZE_CONTENT_TYPE)
        if old < cp.size and old > 0 and not verify_consistency(old, cp.size, root, cp.root, proof):
            self._keep_refused(cp, note)
            return _bad(422, f"the consistency proof from size {old} does not verify: the log does not extend it")
        if old == 0 and proof:
            return _bad(422, "the consistency proof must be empty when the old size is 0")
        state = {
            **self._state,
            cp.origin: {"size": cp.size, "root": base64.b64encode(cp.root).decode(), "checkpoint": note},
        }
        write_atomically(self._folder / STATE_FILE, json.dumps({"logs": state}, sort_keys=True).encode())
        self._state = state  # only once it is on disk: a failed write leaves the witness where it was
        return Answer(200, cosign(cp.body, self._private, self.key.name, int(self._clock())))

    def _keep_refused(self, cp: Checkpoint, note: str) -> None:
        """Keep a validly signed checkpoint that contradicts the state: the log signed two histories."""
        folder = self._folder / REFUSED_DIR
        folder.mkdir(exist_ok=True, mode=0o700)
        write_atomically(folder / f"{int(self._clock() * 1000)}-{cp.size}.checkpoint", note.encode(), mode=0o644)
