"""Witness cosignatures (C2SP tlog-cosignature, ``cosignature/v1``, Ed25519) and verifier keys (signed-note vkeys).

A cosignature is one more signature line on a checkpoint: "— <witness name> base64(key ID || timestamp ||
signature)", where the key ID is SHA-256(name || "\\n" || 0x04 || public key)[:4], the timestamp a big-endian
u64 of POSIX seconds, and the Ed25519 signature covers "cosignature/v1\\n" "time <timestamp>\\n" followed by the
checkpoint's whole body. A witness's verifier key is written "<name>+<8 hex digits of the key ID>+base64(0x04 ||
public key)", so one line names the witness, pins its key and says which signature type it makes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature

from audit.checkpoint import Checkpoint, Signature, parse_checkpoint, parse_signature_line
from audit.errors import CheckpointError
from audit.keys import Ed25519PrivateKey, Ed25519PublicKey, raw_public_key

ALG_COSIGNATURE_V1 = b"\x04"
_DASH = "\u2014 "
_MAX_TIMESTAMP = 2**63 - 1


def cosigner_key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    """The 4-byte key ID of a cosignature/v1 key."""
    return hashlib.sha256(name.encode() + b"\n" + ALG_COSIGNATURE_V1 + raw_public_key(public_key)).digest()[:4]


@dataclass(frozen=True)
class WitnessKey:
    """A witness's verifier key: its name and Ed25519 public key (cosignature/v1)."""

    name: str
    public_key: Ed25519PublicKey

    @property
    def key_id(self) -> bytes:
        return cosigner_key_id(self.name, self.public_key)

    def vkey(self) -> str:
        """The verifier key line an auditor hands to ``verify --witness-key`` or the gateway's settings."""
        material = base64.b64encode(ALG_COSIGNATURE_V1 + raw_public_key(self.public_key)).decode()
        return f"{self.name}+{self.key_id.hex()}+{material}"

    def __repr__(self) -> str:
        return f"WitnessKey({self.vkey()!r})"


def parse_vkey(text: str) -> WitnessKey:
    """Parse a cosignature/v1 verifier key; the key ID in it must match the name and key."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3 or not parts[0] or any(c.isspace() for c in parts[0]):
        raise CheckpointError("witness key must be '<name>+<key id hex>+<base64 key>'")
    name, id_hex, material = parts
    try:
        blob = base64.b64decode(material, validate=True)
        key_id = bytes.fromhex(id_hex)
    except (binascii.Error, ValueError) as exc:
        raise CheckpointError(f"witness key {name}: key ID is not hex or key is not base64") from exc
    if len(blob) != 33 or blob[:1] != ALG_COSIGNATURE_V1:
        raise CheckpointError(
            f"witness key {name}: not an Ed25519 cosignature/v1 key (type byte 0x04 and 32 key bytes)"
        )
    key = WitnessKey(name, Ed25519PublicKey.from_public_bytes(blob[1:]))
    if key.key_id != key_id:
        raise CheckpointError(f"witness key {name}: key ID {id_hex} does not match the name and key")
    return key


def _signed_message(body: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode() + body.encode()


def cosign(body: str, private_key: Ed25519PrivateKey, name: str, timestamp: int) -> str:
    """The cosignature line (with its newline) of a witness over a checkpoint's body."""
    if not 0 <= timestamp <= _MAX_TIMESTAMP:
        raise CheckpointError("cosignature timestamp out of range")
    key_id = cosigner_key_id(name, private_key.public_key())
    sig = private_key.sign(_signed_message(body, timestamp))
    return f"{_DASH}{name} {base64.b64encode(key_id + struct.pack('>Q', timestamp) + sig).decode()}\n"


def cosignature_time(cp: Checkpoint, witness: WitnessKey) -> int | None:
    """The timestamp of ``witness``'s valid cosignature on ``cp``, or None when it has none."""
    for sig in cp.signatures:
        if sig.key_name == witness.name and sig.hint == witness.key_id and _verifies(sig, cp.body, witness):
            return int(struct.unpack(">Q", sig.signature[:8])[0])
    return None


def _verifies(sig: Signature, body: str, witness: WitnessKey) -> bool:
    if len(sig.signature) != 8 + 64:
        return False
    (timestamp,) = struct.unpack(">Q", sig.signature[:8])
    if timestamp > _MAX_TIMESTAMP:
        return False
    try:
        witness.public_key.verify(sig.signature[8:], _signed_message(body, timestamp))
    except InvalidSignature:
        return False
    return True


def add_cosignatures(note: str, answer: str, witness: WitnessKey) -> str:
    """``note`` with the lines of ``witness``'s answer that are its valid cosignatures over it (others ignored)."""
    cp = parse_checkpoint(note)
    kept: list[str] = []
    for line in answer.split("\n"):
        if not line:
            continue
        try:
            sig = parse_signature_line(line)
        except CheckpointError as exc:
            raise CheckpointError(f"witness {witness.name} answered a line that is not a note signature") from exc
        if sig.key_name == witness.name and sig.hint == witness.key_id and _verifies(sig, cp.body, witness):
            kept.append(line)
    if not kept:
        raise CheckpointError(f"witness {witness.name} returned no valid cosignature")
    present = set(note.split("\n"))
    return note + "".join(f"{line}\n" for line in kept if line not in present)


def cosigned_by(text: str, witnesses: list[WitnessKey]) -> list[WitnessKey]:
    """The witnesses of ``witnesses`` with a valid cosignature on the checkpoint ``text``, in their order."""
    cp = parse_checkpoint(text)
    return [w for w in witnesses if cosignature_time(cp, w) is not None]


def require_quorum(text: str, witnesses: list[WitnessKey], quorum: int) -> list[WitnessKey]:
    """The witnesses with a valid cosignature on ``text``; raise unless at least ``quorum`` of them cosigned."""
    if quorum > len(witnesses):
        raise CheckpointError(f"a quorum of {quorum} needs at least {quorum} witness keys, got {len(witnesses)}")
    cosigned = cosigned_by(text, witnesses)
    if len(cosigned) < quorum:
        missing = ", ".join(w.name for w in witnesses if w not in cosigned)
        raise CheckpointError(
            f"checkpoint has {len(cosigned)} valid witness cosignature(s), {quorum} required (missing: {missing})"
        )
    return cosigned
