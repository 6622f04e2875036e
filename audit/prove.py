"""One receipt, proven by its holder: the entry behind an ``X-Gateway-Audit-Index`` is in the signed log.

A consumer (or an auditor) fetches the latest checkpoint, checks the log's signature and, where witnesses are
named, their cosignatures; then fetches the inclusion proof of its entry at exactly that checkpoint's size and
recomputes the root. With a checkpoint kept from an earlier run (``previous``) it also checks, through the
consistency route, that the log it sees today extends the one it saw then. The gateway is not trusted: every
answer is checked here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from audit.checkpoint import Checkpoint, verify_checkpoint
from audit.cosign import WitnessKey, require_quorum
from audit.errors import CheckpointError, VerificationError
from audit.keys import Ed25519PublicKey
from audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from audit.remote import GatewayClient


@dataclass(frozen=True)
class ProvenReceipt:
    """What was proven about entry ``index``."""

    index: int
    entry: dict[str, Any]
    note: str
    checkpoint: Checkpoint
    cosigned_by: tuple[WitnessKey, ...]
    previous: Checkpoint | None


def prove_receipt(
    client: GatewayClient,
    index: int,
    public_key: Ed25519PublicKey,
    witnesses: list[WitnessKey],
    quorum: int,
    previous_text: str | None = None,
    origin: str | None = None,
) -> ProvenReceipt:
    """Check entry ``index`` against the latest signed (and cosigned) checkpoint; raise on the first failure."""
    note = client.checkpoint()
    cp = verify_checkpoint(note, public_key)
    if origin is not None and cp.origin != origin:
        raise VerificationError(f"checkpoint is for origin {cp.origin!r}, expected {origin!r}")
    cosigned = require_quorum(note, witnesses, quorum) if witnesses else []
    if index >= cp.size:
        raise VerificationError(
            f"entry {index} is not covered by the latest signed checkpoint (size {cp.size}); "
            "try again after the next checkpoint"
        )
    leaf, proof = client.inclusion(index, cp.size)
    if not verify_inclusion(index, cp.size, leaf_hash(leaf), proof, cp.root):
        raise VerificationError(f"entry {index}: the inclusion proof does not lead to the checkpoint's root")
    previous = None if previous_text is None else _check_previous(client, previous_text, public_key, cp)
    try:
        entry = json.loads(leaf)
    except ValueError as exc:
        raise VerificationError(f"entry {index} is not JSON") from exc
    if not isinstance(entry, dict):
        raise VerificationError(f"entry {index} is not a JSON object")
    return ProvenReceipt(index, entry, note, cp, tuple(cosigned), previous)


def _check_previous(client: GatewayClient, text: str, public_key: Ed25519PublicKey, cp: Checkpoint) -> Checkpoint:
    try:
        prev = verify_checkpoint(text, public_key)
    except CheckpointError as exc:
        raise CheckpointError(f"previous {exc}") from exc
    failure = f"the log is not an extension of the previous checkpoint (size {prev.size})"
    if prev.origin != cp.origin:
        raise VerificationError(f"previous checkpoint is for origin {prev.origin!r}, not {cp.origin!r}")
    if prev.size > cp.size:
        raise VerificationError(f"{failure}: the latest checkpoint has only {cp.size} entries")
    if prev.size == 0:
        return prev
    proof = client.consistency(prev.size, cp.size) if prev.size < cp.size else []
    if not verify_consistency(prev.size, cp.size, prev.root, cp.root, proof):
        raise VerificationError(failure)
    return prev


def describe(receipt: ProvenReceipt, quorum: int) -> str:
    """The lines ``gateway-audit prove`` prints."""
    e, cp = receipt.entry, receipt.checkpoint
    fields = ", ".join(f"{k} {e[k]}" for k in ("event", "decision", "time", "request_id", "tenant") if k in e)
    lines = [
        f"OK: entry {receipt.index} is in the signed log",
        f"  entry: {fields}",
        f"  checkpoint: origin {cp.origin}, size {cp.size}, root {cp.root.hex()}, signed by the audit key",
    ]
    if receipt.cosigned_by:
        names = ", ".join(w.name for w in receipt.cosigned_by)
        lines.append(f"  witnesses: {len(receipt.cosigned_by)} cosigned ({names}), {quorum} required")
    else:
        lines.append("  witnesses: none checked (pass --witness-key to require cosignatures)")
    if receipt.previous is not None:
        lines.append(f"  extends the previous checkpoint of size {receipt.previous.size}")
    return "\n".join(lines) + "\n"
