"""Offline verification of an exported audit log against a signed checkpoint.

The checks run in the order an auditor reasons: is the checkpoint signed by the audit key; is every
entry canonical JSON (so its bytes are the only possible encoding); does the log hold exactly the
checkpoint's entries, with the same root; and, given an older checkpoint the auditor kept, is the log an
extension of it (a consistency proof computed from the log), so history was neither truncated nor
rewritten. The first failing check raises :class:`VerificationError` naming the entry or check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from audit.canonical import is_canonical_object
from audit.checkpoint import Checkpoint, verify_checkpoint
from audit.errors import CheckpointError, VerificationError
from audit.keys import Ed25519PublicKey
from audit.merkle import leaf_hash, verify_consistency
from audit.tree import MerkleTree


@dataclass(frozen=True)
class VerificationResult:
    """What was proven: ``size`` entries with ``root``, signed in ``checkpoint`` (extending ``previous``)."""

    size: int
    root: bytes
    checkpoint: Checkpoint
    previous: Checkpoint | None = None


def read_jsonl(path: Path) -> list[bytes]:
    """The leaves of an exported log: one entry per line, each line exactly the leaf bytes."""
    data = path.read_bytes()
    if not data:
        return []
    if not data.endswith(b"\n"):
        raise VerificationError(f"{path.name}: the last line is not terminated (truncated export?)")
    return data[:-1].split(b"\n")


def _previous_checkpoint(text: str, public_key: Ed25519PublicKey, key_name: str | None) -> Checkpoint:
    try:
        return verify_checkpoint(text, public_key, key_name)
    except CheckpointError as exc:
        raise CheckpointError(f"previous {exc}") from exc


def verify_log(
    leaves: Sequence[bytes],
    checkpoint_text: str,
    public_key: Ed25519PublicKey,
    previous_text: str | None = None,
    key_name: str | None = None,
    origin: str | None = None,
) -> VerificationResult:
    """Verify ``leaves`` against the signed checkpoint (and an older one); raise on the first failure."""
    cp = verify_checkpoint(checkpoint_text, public_key, key_name)
    if origin is not None and cp.origin != origin:
        raise VerificationError(f"checkpoint is for origin {cp.origin!r}, expected {origin!r}")
    prev = None if previous_text is None else _previous_checkpoint(previous_text, public_key, key_name)
    if prev is not None and prev.origin != cp.origin:
        raise VerificationError(f"previous checkpoint is for origin {prev.origin!r}, not {cp.origin!r}")
    if prev is not None and prev.size > cp.size:
        raise VerificationError(
            f"log is not an extension of previous checkpoint (size {prev.size}): checkpoint has {cp.size}"
            + " (--previous and --checkpoint look swapped? --previous takes the OLDER checkpoint)"
        )
    tree = MerkleTree()
    for index, leaf in enumerate(leaves):
        if not is_canonical_object(leaf):
            raise VerificationError(f"entry {index} (line {index + 1} of the log) is not canonical JSON")
        tree.append(leaf_hash(leaf))
    if prev is not None:
        _check_extension(tree, prev, cp)
    if tree.size != cp.size:
        raise VerificationError(f"log of {tree.size} entries does not match checkpoint size {cp.size}")
    if tree.root() != cp.root:
        raise VerificationError(f"root mismatch: log of {tree.size} entries does not match checkpoint")
    return VerificationResult(tree.size, cp.root, cp, prev)


def _check_extension(tree: MerkleTree, prev: Checkpoint, cp: Checkpoint) -> None:
    """The previous checkpoint's tree must be a prefix of this log, shown by a consistency proof."""
    failure = f"log is not an extension of previous checkpoint (size {prev.size})"
    if tree.size < prev.size:
        raise VerificationError(f"{failure}: log has only {tree.size} entries")
    if tree.root(prev.size) != prev.root:
        raise VerificationError(failure)
    second = min(cp.size, tree.size)
    proof = tree.consistency_proof(prev.size, second)
    if not verify_consistency(prev.size, second, prev.root, tree.root(second), proof):
        raise VerificationError(failure)
