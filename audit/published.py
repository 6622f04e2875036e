"""The last checkpoint a log published, kept outside its database, and the start-up check against it.

Whoever can write the log's database can rewrite an entry, recompute its leaf hash and delete the stored
checkpoints; the log would then sign the rewritten history as if it were the only one. So the signing process
also keeps its latest checkpoint in a file beside its signing key (not in the database) and, at start, refuses
a log whose first entries no longer produce that checkpoint's root. This stops a rewrite by someone with the
database but not the key folder; against someone holding the whole host, only witnesses help (see
:mod:`audit.witness`).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

from audit.atomic import write_atomically
from audit.checkpoint import Checkpoint, parse_checkpoint, verify_checkpoint
from audit.errors import CheckpointError, LogCorruptedError
from audit.keys import Ed25519PublicKey


class SizedLog(Protocol):
    def size(self) -> int: ...

    def root(self, size: int) -> bytes: ...


class PublishedCheckpoint:
    """The file holding the latest checkpoint this log signed; written atomically with mode 0600."""

    def __init__(self, path: Path, public_key: Ed25519PublicKey) -> None:
        self.path = path
        self._key = public_key
        self._lock = threading.Lock()
        self._size = -1

    def check(self, log: SizedLog) -> Checkpoint | None:
        """Raise LogCorruptedError unless ``log`` extends the published checkpoint (None: nothing published yet)."""
        if not self.path.exists():
            return None
        try:
            cp = verify_checkpoint(self.path.read_text(encoding="utf-8"), self._key)
        except (CheckpointError, UnicodeDecodeError) as exc:
            raise LogCorruptedError(f"{self.path} is not a checkpoint signed by the audit key: {exc}") from exc
        size = log.size()
        if size < cp.size:
            raise LogCorruptedError(
                f"the audit log has {size} entries, but this gateway published a checkpoint of {cp.size} "
                f"({self.path}): entries were removed from the database"
            )
        if log.root(cp.size) != cp.root:
            raise LogCorruptedError(
                f"the first {cp.size} entries of the audit log do not match the checkpoint this gateway "
                f"published ({self.path}): history was rewritten in the database"
            )
        self._size = cp.size
        return cp

    def record(self, note: str) -> None:
        """Keep ``note`` if it is larger than the one kept (another replica may have kept a larger one)."""
        size = parse_checkpoint(note).size
        with self._lock:
            if size <= self._size:
                return
            write_atomically(self.path, note.encode("utf-8"))
            self._size = size
