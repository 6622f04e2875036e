"""Every policy version, archived by content: the file named by its SHA-256 is the version, so it is sealed.

The gateway puts each policy text it puts in force (``policy/gateway.yaml``, and the Casbin ``model.conf`` and
``policy.csv`` as one bundle) here, beside the audit database, and names its version in the ``policy.reload`` and
``gateway.start`` entries of the signed log. Changing an archived text changes its hash: reading it back checks
the hash, and the log says which hash was in force, so a rewritten policy cannot pass for the one that ruled.
Standalone (stdlib only), so an auditor can check an archive copied from the gateway's host.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from audit.errors import AuditError

ARCHIVE_DIR = "policy-archive"
_VERSION = re.compile(r"sha256:([0-9a-f]{64})")


class NotArchived(AuditError):
    """No text of that version is in the archive."""


class ArchiveTampered(AuditError):
    """The archived file no longer hashes to its name: it was changed after it was archived."""


def version_of(text: bytes) -> str:
    """The version of a policy text: ``sha256:`` and the hex digest of its bytes (the gateway policy's own)."""
    return "sha256:" + hashlib.sha256(text).hexdigest()


def casbin_bundle(model: bytes, policy: bytes) -> bytes:
    """The Casbin policy as one archived text: both files, each under a header line naming it."""
    return b"# model.conf\n" + model + b"\n# policy.csv\n" + policy


def parse_version(version: str) -> str:
    """The hex digest of a well-formed version string; ValueError otherwise."""
    match = _VERSION.fullmatch(version)
    if match is None:
        raise ValueError("a policy version is 'sha256:' and 64 lowercase hex digits")
    return match.group(1)


class PolicyArchive:
    """A directory of policy texts, each in a file named by the hex SHA-256 of its bytes; write-once."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory

    def put(self, text: bytes) -> str:
        """Archive ``text`` (atomically; a text already there is left as is) and return its version."""
        version = version_of(text)
        path = self._dir / parse_version(version)
        if path.exists():
            return version
        self._dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._dir, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o444)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return version

    def get(self, version: str) -> bytes:
        """The archived text of ``version``, checked against its hash."""
        path = self._dir / parse_version(version)
        try:
            text = path.read_bytes()
        except FileNotFoundError:
            raise NotArchived(f"policy version {version} is not in the archive") from None
        if version_of(text) != version:
            raise ArchiveTampered(f"the archived text of policy version {version} was changed after archiving")
        return text
