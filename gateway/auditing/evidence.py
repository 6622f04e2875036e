"""What the console proves rather than merely shows: the signed checkpoint, inclusion proofs, the report.

Every check is recomputed here with the standalone ``audit`` package against the audit public key, the way
an auditor's own tools would, so a page that says "verified" says it because the math held, not because the
log said so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from audit.checkpoint import Checkpoint, verify_checkpoint
from audit.cosign import WitnessKey
from audit.errors import AuditError, CheckpointError
from audit.keys import Ed25519PublicKey
from audit.merkle import leaf_hash, verify_inclusion
from audit.report import build_report, witness_status
from audit.report_scope import ReportScope
from audit.verify import VerificationResult, verify_log
from gateway.errors import Unavailable


class EvidenceLog(Protocol):
    def size(self) -> int: ...
    def entries(self, start: int, end: int) -> list[bytes]: ...
    def checkpoint_now(self) -> str: ...
    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]: ...


@dataclass(frozen=True)
class SignedCheckpoint:
    note: str
    checkpoint: Checkpoint


@dataclass(frozen=True)
class InclusionEvidence:
    index: int
    leaf: bytes
    leaf_hash: bytes
    proof: list[bytes]
    checkpoint: Checkpoint
    verified: bool


def latest_checkpoint(
    log: EvidenceLog, public_key: Ed25519PublicKey, publish: Callable[[str], str] | None = None
) -> SignedCheckpoint:
    """A fresh checkpoint covering every durable entry, its signature checked with the audit public key.

    ``publish`` adds the witnesses' cosignatures (what ``GET /v1/audit/checkpoint`` serves).
    """
    note = log.checkpoint_now()
    if publish is not None:
        note = publish(note)
    try:
        return SignedCheckpoint(note, verify_checkpoint(note, public_key))
    except CheckpointError as exc:  # the console must never present an unverified checkpoint as evidence
        raise Unavailable(f"the latest checkpoint does NOT verify with the audit public key: {exc}") from exc


def inclusion(log: EvidenceLog, index: int, signed: SignedCheckpoint) -> InclusionEvidence | None:
    """The entry at ``index`` and its audit path to the checkpoint's root; None when the checkpoint lacks it."""
    cp = signed.checkpoint
    if not 0 <= index < cp.size:
        return None
    leaf = log.entries(index, index + 1)[0]
    digest = leaf_hash(leaf)
    proof = log.inclusion_proof(index, cp.size)
    ok = verify_inclusion(index, cp.size, digest, proof, cp.root)
    return InclusionEvidence(index, leaf, digest, proof, cp, ok)


def witnessing(signed: SignedCheckpoint, witnesses: list[WitnessKey]) -> dict[str, Any]:
    """Which of the configured witnesses validly cosigned ``signed`` (every one of them is expected)."""
    return witness_status(signed.note, witnesses, len(witnesses))


def report(
    log: EvidenceLog, public_key: Ed25519PublicKey, scope: ReportScope | None = None, framework: str = "nist-ai-rmf"
) -> dict[str, Any]:
    """The evidence report over the checkpointed log, with the verification outcome at its head.

    The whole log is verified; only the entries ``scope`` covers are reported on.
    """
    note = log.checkpoint_now()
    try:
        size = verify_checkpoint(note, public_key).size
        leaves = log.entries(0, size)
        result: VerificationResult | None = verify_log(leaves, note, public_key)
        failure = None
    except AuditError as exc:
        leaves = log.entries(0, log.size())
        result, failure = None, str(exc)
    return build_report(leaves, result, failure, scope=scope, framework=framework, checkpoint=note)
