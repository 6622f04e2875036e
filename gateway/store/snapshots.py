"""Encrypted FAISS snapshot files under ``<data_dir>/indexes/``, one per collection.

A snapshot is ``VectorIndex.to_bytes()`` sealed with ``Envelope.encrypt_snapshot`` under
``RecordContext.index(tenant, collection, model_version)`` (record id ``__index__``), so a snapshot copied to
another collection or tenant does not open, and a snapshot never opens as a record. It is written to a
temporary file, fsynced, renamed over the old one and the directory fsynced: a crash leaves the old
snapshot or the new one, never half of one. File names are a digest of (tenant, collection), so no
tenant or collection name is visible on disk. Files are 0600.

Several worker processes may share the folder (``workers`` above 1 on the embedded backend): a writer takes an
exclusive ``flock`` on ``.lock`` and replaces a snapshot only with one of the same or a newer change seq (kept
beside it in ``<digest>.seq``), so a lagging worker never puts back an older index, whose pruned changes would
send every later load into a rebuild from the records.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Iterator
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
        """Seal and atomically replace the collection's snapshot of the index as of change ``seq``, unless another
        process already wrote a newer one."""
        sealed = self._envelope.encrypt_snapshot(_context(c), payload)
        final = self.path(c.tenant, c.name)
        marker = final.with_name(final.name.removesuffix(SUFFIX) + ".seq")
        with self._locked():
            if _read_seq(marker) > seq:
                return
            self._replace(final, sealed)
            self._replace(marker, str(seq).encode())
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
        with self._locked():
            for path in (final, final.with_name(final.name.removesuffix(SUFFIX) + ".seq"),
                         final.with_name(final.name + ".tmp")):  # the name of an older version's temporary file
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        self._fsync_directory()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Exclusive across processes (``flock`` on the folder's ``.lock``); a thread of this process waits too."""
        with open(self.directory / ".lock", "a+b") as lock:
            os.chmod(self.directory / ".lock", 0o600)
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @staticmethod
    def _replace(final: Path, data: bytes) -> None:
        """Write ``data`` to a temporary file of this process and thread, fsync it, and rename it over ``final``."""
        temp = final.with_name(f"{final.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(temp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, final)

    def _fsync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _read_seq(marker: Path) -> int:
    """The change seq of the snapshot beside ``marker``; -1 when unknown (any snapshot may replace it)."""
    try:
        return int(marker.read_text(encoding="ascii"))
    except (FileNotFoundError, ValueError):
        return -1


def _context(c: Collection) -> RecordContext:
    return RecordContext.index(c.tenant, c.name, c.model_version)
