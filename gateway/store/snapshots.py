"""Encrypted FAISS snapshot files under ``<data_dir>/indexes/``, one per collection.

A snapshot is ``VectorIndex.to_bytes()`` sealed with ``Envelope.encrypt_snapshot`` under
``RecordContext.index(tenant, collection, model_version)`` (record id ``__index__``), so a snapshot copied to
another collection or tenant does not open, and a snapshot never opens as a record. It is written to a
temporary file, fsynced, renamed over the old one and the directory fsynced: a crash leaves the old
snapshot or the new one, never half of one. File names are a digest of (tenant, collection), so no
tenant or collection name is visible on disk. Files are 0600.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

from gateway.crypto import Envelope, RecordContext
from gateway.store.base import Collection

SUFFIX = ".faiss.enc"


class SnapshotFiles:
    def __init__(self, directory: Path, envelope: Envelope) -> None:
        self.directory = directory
        self._envelope = envelope
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    def path(self, tenant: str, collection: str) -> Path:
        digest = hashlib.sha256(json.dumps(["store-snapshot", tenant, collection]).encode()).hexdigest()
        return self.directory / f"{digest}{SUFFIX}"

    def write(self, c: Collection, payload: bytes, seq: int) -> None:
        """Seal and atomically replace the collection's snapshot of the index as of change ``seq``. One process
        owns the files (the embedded backend), so its latest snapshot is always its newest."""
        sealed = self._envelope.encrypt_snapshot(_context(c), payload)
        final = self.path(c.tenant, c.name)
        temp = final.with_name(final.name + ".tmp")
        fd = os.open(temp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        try:
            view = memoryview(sealed)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, final)
        self._fsync_directory()

    def read(self, c: Collection) -> bytes | None:
        """The opened payload, or None when there is no snapshot; ``DecryptionFailed`` when it does not open."""
        try:
            sealed = self.path(c.tenant, c.name).read_bytes()
        except FileNotFoundError:
            return None
        return self._envelope.decrypt_snapshot(_context(c), sealed)

    def delete(self, tenant: str, collection: str) -> None:
        final = self.path(tenant, collection)
        for path in (final, final.with_name(final.name + ".tmp")):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        self._fsync_directory()

    def _fsync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _context(c: Collection) -> RecordContext:
    return RecordContext.index(c.tenant, c.name, c.model_version)
