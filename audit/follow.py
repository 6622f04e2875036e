"""Following the audit log as it grows, for a SIEM: new entries once a signed checkpoint covers them, in order.

A ``Follower`` reads a *source* (the embedded ``audit.db``, the shared PostgreSQL log, a running gateway's audit
API, or the gateway's own log backend) and yields each entry at most once per run, with its index and the
checkpoint that commits to it (its inclusion-proof anchor: size and root). Entries newer than the latest
checkpoint wait: nothing vouches for them yet.

With a public key, every checkpoint's signature is checked, and the follower rebuilds the Merkle tree from entry 0
(reading, not emitting, what comes before ``start``), so each emitted entry is proven part of the signed tree: a
source that serves other bytes, drops an entry or rolls the log back is refused. A tenant auditor's key sees its
own tenant's entries only; the others are withheld by the gateway, so that stream cannot be proven and is not
offered with a public key.

Progress is a small JSON file (``{"next": N}``) written atomically after each delivered batch, so a follower that
stops (or a gateway that restarts) resumes at the first undelivered entry: no gap, and no repeat beyond the batch
in flight when the follower itself was killed.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from audit.atomic import write_atomically
from audit.checkpoint import Checkpoint, parse_checkpoint, verify_checkpoint
from audit.errors import AuditError, VerificationError
from audit.keys import Ed25519PublicKey
from audit.merkle import leaf_hash
from audit.tree import MerkleTree

PAGE = 1000


class FollowSource(Protocol):
    """What a follower reads: the latest signed checkpoint, and entries by index (None where withheld)."""

    def latest_checkpoint(self) -> str | None: ...

    def entries(self, start: int, end: int) -> list[bytes | None]: ...


@dataclass(frozen=True)
class Followed:
    """One entry as delivered: its index, its leaf bytes (None if withheld from this reader) and its anchor."""

    index: int
    leaf: bytes | None  # None: withheld from this reader (another tenant's entry); never delivered
    checkpoint: Checkpoint

    def record(self) -> dict[str, Any]:
        """The JSON line for a SIEM: index, leaf hash, anchor (checkpoint size and root) and the entry itself."""
        assert self.leaf is not None
        return {
            "index": self.index,
            "leaf_hash": leaf_hash(self.leaf).hex(),
            "checkpoint": {"size": self.checkpoint.size, "root": self.checkpoint.root.hex()},
            "entry": json.loads(self.leaf),
        }


class Progress:
    """The next undelivered index, kept in ``path`` (or in memory only, without a path)."""

    def __init__(self, path: Path | None, since: int) -> None:
        self._path = path
        self.next = since
        self.covered = 0  # entries before this index were delivered, so a signed checkpoint covered them
        if path is not None and path.exists():
            try:
                self.next = self.covered = int(json.loads(path.read_text(encoding="utf-8"))["next"])
            except (ValueError, KeyError, TypeError) as exc:
                raise AuditError(f"the follow state {path} is not readable (expected {{\"next\": N}})") from exc
        if self.next < 0:
            raise AuditError("the first index to follow must be 0 or more")

    def advance(self, next_index: int) -> None:
        self.next = self.covered = next_index
        if self._path is not None:
            write_atomically(self._path, json.dumps({"next": next_index}).encode())


class Follower:
    """Yields newly checkpointed entries from ``progress.next`` on; verifies them when given a public key."""

    def __init__(self, source: FollowSource, progress: Progress, public_key: Ed25519PublicKey | None = None,
                 key_name: str | None = None) -> None:
        self._source = source
        self._progress = progress
        self._key = public_key
        self._key_name = key_name
        self._tree: MerkleTree | None = MerkleTree() if public_key is not None else None
        # What a state file says was delivered was covered by a checkpoint at least that large: a smaller one
        # after a restart of the follower is a rollback too, not a log to wait on.
        self._seen_size = progress.covered
        self.end = progress.next

    def _checkpoint(self) -> Checkpoint | None:
        note = self._source.latest_checkpoint()
        if note is None:
            return None
        if self._key is None:
            return parse_checkpoint(note)
        return verify_checkpoint(note, self._key, self._key_name)

    def poll(self) -> list[Followed]:
        """The entries a new checkpoint covers, from the next undelivered one (empty when nothing is new).

        Withheld entries (another tenant's, for a tenant auditor) are skipped; ``end`` says where the batch ends.
        """
        checkpoint = self._checkpoint()
        if checkpoint is None:
            return []
        if checkpoint.size < self._seen_size:
            raise VerificationError(
                f"the log's checkpoint went back from size {self._seen_size} to {checkpoint.size}: it was rolled back")
        self._seen_size = checkpoint.size
        self.end = checkpoint.size
        start = self._progress.next
        if checkpoint.size <= start:
            return []
        if self._tree is not None:
            self._prove(checkpoint)
        return [Followed(i, leaf, checkpoint) for i, leaf in self._read(start, checkpoint.size)]

    @property
    def next(self) -> int:
        """The first index not yet delivered."""
        return self._progress.next

    def delivered(self, next_index: int) -> None:
        """Everything before ``next_index`` reached its destination: remember it (the state file, if any)."""
        if next_index > self._progress.next:
            self._progress.advance(next_index)

    def _read(self, start: int, end: int) -> Iterator[tuple[int, bytes | None]]:
        for lo in range(start, end, PAGE):
            hi = min(end, lo + PAGE)
            page = self._source.entries(lo, hi)
            if len(page) != hi - lo:
                raise VerificationError(f"the source returned {len(page)} entries for [{lo}, {hi})")
            yield from zip(range(lo, hi), page, strict=True)

    def _prove(self, checkpoint: Checkpoint) -> None:
        """Extend the tree up to the checkpoint and require its signed root; the entries are read twice at most."""
        assert self._tree is not None
        for index, leaf in self._read(self._tree.size, checkpoint.size):
            if leaf is None:
                raise VerificationError(
                    f"entry {index} is withheld from this key, so the stream cannot be proven: follow with a "
                    "platform-auditor key, or without --public-key")
            self._tree.append(leaf_hash(leaf))
        if self._tree.root(checkpoint.size) != checkpoint.root:
            raise VerificationError(
                f"the entries up to {checkpoint.size} do not hash to the signed root: the log was altered")


class SqliteSource:
    """An embedded gateway's ``<data dir>/audit.db``, read-only (the gateway may be running or stopped)."""

    def __init__(self, data_dir: Path) -> None:
        self._db = data_dir / "audit.db"
        if not self._db.is_file():
            raise AuditError(f"no audit log at {self._db}")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(f"{self._db.resolve().as_uri()}?mode=ro", uri=True, timeout=30)

    def latest_checkpoint(self) -> str | None:
        with self._connect() as conn:
            row = conn.execute("SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1").fetchone()
        return None if row is None else str(row[0])

    def entries(self, start: int, end: int) -> list[bytes | None]:
        with self._connect() as conn:
            rows = conn.execute("SELECT idx, leaf FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx", (start, end))
            return contiguous(start, [(int(i), stored_leaf(leaf)) for i, leaf in rows])


def stored_leaf(leaf: object) -> bytes:
    """A stored leaf as bytes (a host may have written text into the column: it is then checked like any leaf)."""
    return leaf.encode("utf-8") if isinstance(leaf, str) else bytes(leaf)  # type: ignore[call-overload]


def contiguous(start: int, rows: list[tuple[int, bytes]]) -> list[bytes | None]:
    for expected, (index, _) in enumerate(rows, start):
        if index != expected:
            raise VerificationError(f"entry {expected} is missing from the stored log")
    return [leaf for _, leaf in rows]
