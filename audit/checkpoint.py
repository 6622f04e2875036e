"""Checkpoints in the transparency-log "signed note" format (C2SP tlog-checkpoint and signed-note).

A note is its text (origin, tree size, base64 root hash, each line ending in "\\n"), a blank line, then
one line per signature: "— <key name> <base64(4-byte key hint || Ed25519 signature over the text)>".
The key hint is the first 4 bytes of SHA-256(key name || "\\n" || 0x01 || raw public key), exactly as Go's
golang.org/x/mod/sumdb/note computes it, so Go tooling (and witnesses) can read our checkpoints.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature

from audit.errors import CheckpointError
from audit.keys import Ed25519PrivateKey, Ed25519PublicKey, raw_public_key
from audit.merkle import HASH_SIZE

_DASH = "\u2014 "
_ALG_ED25519 = b"\x01"


@dataclass(frozen=True)
class Signature:
    """One signature line of a note."""

    key_name: str
    hint: bytes
    signature: bytes


@dataclass(frozen=True)
class Checkpoint:
    """A parsed checkpoint; ``body`` is the signed text, ``extensions`` any lines after the root."""

    origin: str
    size: int
    root: bytes
    body: str
    signatures: tuple[Signature, ...]
    extensions: tuple[str, ...] = ()


def key_hint(key_name: str, public_key: Ed25519PublicKey) -> bytes:
    """The 4-byte key hint of signed-note, binding the key name to the key."""
    material = key_name.encode() + b"\n" + _ALG_ED25519 + raw_public_key(public_key)
    return hashlib.sha256(material).digest()[:4]


def _check_key_name(key_name: str) -> None:
    if not key_name or any(c.isspace() for c in key_name) or "+" in key_name:
        raise CheckpointError("key name must be non-empty, without spaces or '+'")


def sign_note(text: str, private_key: Ed25519PrivateKey, key_name: str) -> str:
    """Sign a note's text (which must end in a newline) and return the whole note."""
    _check_key_name(key_name)
    if not text.endswith("\n") or "\n\n" in text:
        raise CheckpointError("note text must end with a newline and contain no blank line")
    hint = key_hint(key_name, private_key.public_key())
    sig = private_key.sign(text.encode())
    return f"{text}\n{_DASH}{key_name} {base64.b64encode(hint + sig).decode()}\n"


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    """The signed text of a checkpoint."""
    if not origin or "\n" in origin:
        raise CheckpointError("origin must be one non-empty line")
    if size < 0 or len(root) != HASH_SIZE:
        raise CheckpointError("checkpoint needs a size >= 0 and a 32-byte root")
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def sign_checkpoint(origin: str, size: int, root: bytes, private_key: Ed25519PrivateKey, key_name: str) -> str:
    """A signed checkpoint note for the tree of ``size`` leaves with ``root``."""
    return sign_note(checkpoint_body(origin, size, root), private_key, key_name)


def parse_signature_line(line: str) -> Signature:
    """One "— <name> <base64>" line of a note (a witness's answer is a list of them)."""
    if not line.startswith(_DASH):
        raise CheckpointError("malformed checkpoint: signature line must start with an em dash")
    parts = line[len(_DASH) :].split(" ")
    if len(parts) != 2 or not parts[0]:
        raise CheckpointError("malformed checkpoint: signature line must be '— <name> <base64>'")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CheckpointError("malformed checkpoint: signature is not base64") from exc
    if len(blob) < 5:
        raise CheckpointError("malformed checkpoint: signature too short")
    return Signature(parts[0], blob[:4], blob[4:])


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint note without checking its signatures."""
    split = text.rfind("\n\n")
    if split < 0 or not text.endswith("\n"):
        raise CheckpointError(
            "malformed checkpoint: no blank line before the signatures (is this a checkpoint note, complete?)"
        )
    body, sig_block = text[: split + 1], text[split + 2 :]
    lines = body.split("\n")[:-1]
    if len(lines) < 3:
        raise CheckpointError("malformed checkpoint: needs origin, size and root lines (lines 1-3)")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    # ASCII digits only: str.isdigit() takes U+00B2 (int() then fails) and U+0661 U+0662 (a second spelling of 12).
    decimal = size_text.isascii() and size_text.isdigit()
    if not origin or not decimal or (size_text != "0" and size_text.startswith("0")):
        raise CheckpointError("malformed checkpoint: line 1 must be the origin and line 2 the tree size in decimal")
    try:
        root = base64.b64decode(root_text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CheckpointError("malformed checkpoint: line 3 (the root hash) is not base64") from exc
    if len(root) != HASH_SIZE:
        raise CheckpointError("malformed checkpoint: line 3 (the root hash) is not 32 bytes")
    sig_lines = sig_block.split("\n")[:-1]
    if not sig_lines:
        raise CheckpointError("malformed checkpoint: no signature lines")
    signatures = []
    for number, line in enumerate(sig_lines, start=len(lines) + 2):
        try:
            signatures.append(parse_signature_line(line))
        except CheckpointError as exc:
            raise CheckpointError(f"{exc} (line {number})") from exc
    return Checkpoint(origin, int(size_text), root, body, tuple(signatures), tuple(lines[3:]))


def verify_checkpoint(text: str, public_key: Ed25519PublicKey, key_name: str | None = None) -> Checkpoint:
    """Parse ``text`` and require a valid signature by ``public_key`` (under ``key_name`` if given).

    Without ``key_name`` any signature line whose hint matches the key under its own name is tried, as
    an auditor holding only the PEM public key does not know the name the gateway signs under.
    """
    cp = parse_checkpoint(text)
    candidates = [s for s in cp.signatures if key_name is None or s.key_name == key_name]
    names = key_name or ", ".join(sorted({s.key_name for s in cp.signatures}))
    if not candidates:
        raise CheckpointError(f"checkpoint has no signature for key {names}")
    for sig in candidates:
        if sig.hint != key_hint(sig.key_name, public_key):
            continue
        try:
            public_key.verify(sig.signature, cp.body.encode())
        except InvalidSignature:
            continue
        return cp
    raise CheckpointError(f"checkpoint signature invalid for key {names}")


@dataclass(frozen=True)
class CheckpointSigner:
    """The log's signing identity: an Ed25519 key and the name it signs under."""

    private_key: Ed25519PrivateKey
    key_name: str

    def __post_init__(self) -> None:
        _check_key_name(self.key_name)

    def sign(self, origin: str, size: int, root: bytes) -> str:
        """Sign a checkpoint."""
        return sign_checkpoint(origin, size, root, self.private_key, self.key_name)

    def public_key(self) -> Ed25519PublicKey:
        """The key auditors verify with."""
        return self.private_key.public_key()

    def __repr__(self) -> str:  # never print key material
        return f"CheckpointSigner(key_name={self.key_name!r})"
