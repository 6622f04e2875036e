"""The audit package's own exception tree (it never imports ``gateway``).

    AuditError
    ├── LogWriteError          an entry could not be made durable; the caller must fail the request closed
    ├── LogCorruptedError      the stored log disagrees with itself (leaf hash, index gap, checkpoint root)
    ├── ProofError             a proof was asked for an index or size the tree does not have
    └── VerificationError      a check an auditor relies on failed; the message names the first failing check
        └── CheckpointError    a checkpoint note is malformed, or its signature does not verify

Messages carry indexes, sizes and key names only: never entry contents.
"""

from __future__ import annotations


class AuditError(Exception):
    """Base of every error the audit package raises on purpose."""


class LogWriteError(AuditError):
    """The append could not be committed durably."""


class LogCorruptedError(AuditError):
    """The stored log is inconsistent; it must not be appended to."""


class ProofError(AuditError):
    """Bad arguments for a proof (index or sizes out of range)."""


class VerificationError(AuditError):
    """A verification check failed."""


class CheckpointError(VerificationError):
    """A checkpoint is malformed or not validly signed by the expected key."""
