"""The audit log's storage interface, so a PostgreSQL implementation can follow the SQLite one.

Every backend must: give each entry a distinct, contiguous 0-based index; resolve a submitted entry's
future only after the entry is durable (the gateway answers a request only then); fail the future when it
cannot (the gateway then fails the request closed); sign checkpoints while entries arrive and on close, unless
signing is held.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any, Protocol


class AuditLogBackend(Protocol):
    """An append-only, Merkle-tree-backed audit log."""

    def submit(self, entry: Mapping[str, Any]) -> Future[int]:
        """Queue ``entry``; the future resolves to its index once it is durable."""
        ...

    def append(self, entry: Mapping[str, Any]) -> int:
        """Append ``entry`` durably and return its index."""
        ...

    def size(self) -> int:
        """Number of durable entries."""
        ...

    def entries(self, start: int, end: int) -> list[bytes]:
        """Leaf bytes (canonical JSON) of entries ``start`` up to, not including, ``end``."""
        ...

    def entry_tenant(self, index: int) -> str | None:
        """Tenant of entry ``index`` (for a consumer asking for its own receipt's proof)."""
        ...

    def latest_checkpoint(self) -> str | None:
        """The latest signed checkpoint note, if any."""
        ...

    def checkpoint_now(self) -> str:
        """Sign (if the size changed) and return a checkpoint covering every durable entry."""
        ...

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        """Audit path of entry ``index`` in the tree of ``tree_size`` entries."""
        ...

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """Proof that the tree of ``second`` entries extends the tree of ``first`` entries."""
        ...

    def root(self, size: int | None = None) -> bytes:
        """Root hash of the first ``size`` entries (all by default)."""
        ...

    def on_checkpoint(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(note)`` after each checkpoint this process signs (publication, witnesses)."""
        ...

    def add_cosignatures(self, note: str) -> None:
        """Store ``note`` (a checkpoint this log signed, with cosignatures added) in place of the plain one."""
        ...

    def follow_position(self, name: str) -> int | None:
        """The next undelivered index saved for follower ``name`` (the syslog forwarder), or None if none was."""
        ...

    def save_follow_position(self, name: str, next_index: int) -> None:
        """Commit ``next_index`` as follower ``name``'s position, in the log's own database: it lasts as long as
        the entries it counts (a pod's data folder may not), and a crash leaves the old value or the new one."""
        ...

    def hold_follow_role(self, name: str) -> bool:
        """Take (or keep) follower ``name``'s role, held by one process of all that share the log at a time (several
        workers, several replicas) until it closes or dies: whether this process holds it."""
        ...

    def hold_signing(self, reason: str) -> None:
        """Sign no further checkpoint until the process restarts (a witness refused one)."""
        ...

    @property
    def signing_held(self) -> str | None:
        """Why signing is held, or None."""
        ...

    def close(self) -> None:
        """Flush queued entries, sign a final checkpoint and release resources."""
        ...
