"""The embedded audit log: SQLite (WAL, synchronous=FULL) with group commit and signed checkpoints.

One writer thread owns the write connection. Callers ``submit`` entries; the writer drains everything
queued, inserts it in one transaction and commits (one fsync for the whole group), and only then resolves
each future with the entry's index. So an acknowledged entry survives ``kill -9`` and power loss, while
the cost of durability is shared by every request that arrived during the previous commit.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audit.canonical import canonical_json
from audit.checkpoint import CheckpointSigner
from audit.errors import AuditError, LogCorruptedError, LogWriteError, ProofError
from audit.merkle import leaf_hash
from audit.tree import MerkleTree

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries(idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL, leaf_hash BLOB NOT NULL,
                                   event TEXT, tenant TEXT, time TEXT);
CREATE TABLE IF NOT EXISTS checkpoints(size INTEGER PRIMARY KEY, root BLOB, note TEXT, time TEXT);
"""
_log = logging.getLogger(__name__)


@dataclass
class _Entry:
    leaf: bytes
    leaf_hash: bytes
    event: str | None
    tenant: str | None
    time: str | None
    future: Future[int]


@dataclass
class _Control:
    kind: str  # "checkpoint" or "close"
    future: Future[str]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


class SQLiteAuditLog:
    """Append-only Merkle log in one SQLite file; see :class:`audit.backend.AuditLogBackend`."""

    def __init__(
        self,
        path: Path,
        signer: CheckpointSigner | None,
        origin: str,
        checkpoint_interval_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        self._signer, self._origin = signer, origin
        self._interval, self._clock = checkpoint_interval_s, clock
        self._writer = _connect(path)
        self._writer.executescript(_SCHEMA)
        self._reader = _connect(path)
        self._read_lock, self._tree_lock = threading.Lock(), threading.Lock()
        self._tree = MerkleTree()
        self._latest: str | None = None
        self._checkpointed_size = -1
        self._rebuild()
        self._last_checkpoint_at = clock()
        self._queue: queue.SimpleQueue[_Entry | _Control] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="audit-log-writer", daemon=True)
        self._thread.start()

    # ---- opening ----------------------------------------------------------------------------------------
    def _rebuild(self) -> None:
        """Recompute the tree from the stored leaves, refusing a log that disagrees with itself."""
        rows = self._writer.execute("SELECT idx, leaf, leaf_hash FROM entries ORDER BY idx")
        for idx, leaf, stored in rows:
            if idx != self._tree.size:
                raise LogCorruptedError(f"entry {self._tree.size} is missing from the stored log")
            if leaf_hash(bytes(leaf)) != bytes(stored):
                raise LogCorruptedError(f"entry {idx}: stored leaf hash does not match its leaf")
            self._tree.append(bytes(stored))
        for size, root, note in self._writer.execute("SELECT size, root, note FROM checkpoints ORDER BY size"):
            if size > self._tree.size or self._tree.root(size) != bytes(root):
                raise LogCorruptedError(f"stored checkpoint of size {size} does not match the entries")
            self._latest, self._checkpointed_size = note, size

    def _catch_up(self) -> None:
        """Take in entries another process appended (e.g. the operator's CLI), inside the write lock.

        Appends are serialized by the database's write lock, so several writers share one log: one sequence, no
        gaps, no forks.
        """
        self._absorb(self._writer)

    def _refresh(self) -> None:
        """Readers see entries other writers committed, too."""
        with self._read_lock:
            if not self._closed:
                self._absorb(self._reader)

    def _absorb(self, conn: sqlite3.Connection) -> None:
        rows = conn.execute(
            "SELECT idx, leaf, leaf_hash FROM entries WHERE idx >= ? ORDER BY idx", (self._tree.size,)
        ).fetchall()
        with self._tree_lock:
            for idx, leaf, stored in rows:
                if idx < self._tree.size:  # absorbed meanwhile by another thread of ours
                    continue
                if idx != self._tree.size or leaf_hash(bytes(leaf)) != bytes(stored):
                    raise LogCorruptedError(f"entry {idx} appended by another writer does not fit the log")
                self._tree.append(bytes(stored))

    # ---- the write path ---------------------------------------------------------------------------------
    def submit(self, entry: Mapping[str, Any]) -> Future[int]:
        """Queue ``entry``; the future resolves to its index once committed, or fails with LogWriteError."""
        future: Future[int] = Future()
        try:
            leaf = canonical_json(dict(entry))
        except Exception as exc:  # rfc8785 raises several types; none may escape as a crash
            future.set_exception(LogWriteError(f"entry is not serializable as canonical JSON: {type(exc).__name__}"))
            return future
        if self._closed:
            future.set_exception(LogWriteError("audit log is closed"))
            return future
        item = _Entry(
            leaf,
            leaf_hash(leaf),
            _text(entry.get("event")),
            _text(entry.get("tenant")),
            _text(entry.get("time")),
            future,
        )
        self._queue.put(item)
        return future

    def append(self, entry: Mapping[str, Any]) -> int:
        """Append ``entry`` durably and return its index."""
        return self.submit(entry).result()

    def _run(self) -> None:
        while True:
            pending = self._signer is not None and self._tree.size != self._checkpointed_size
            try:
                first = self._queue.get(timeout=self._interval if pending else None)
            except queue.Empty:
                self._periodic_checkpoint()
                continue
            batch = [first]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            entries = [b for b in batch if isinstance(b, _Entry)]
            controls = [b for b in batch if isinstance(b, _Control)]
            committed = self._commit(entries) if entries else []
            self._periodic_checkpoint()  # before acknowledging, so a due checkpoint already covers them
            for index, e in enumerate(committed, start=self._tree.size - len(committed)):
                e.future.set_result(index)
            for control in controls:
                self._handle(control)
                if control.kind == "close":
                    return

    def _commit(self, batch: list[_Entry]) -> list[_Entry]:
        """Insert and commit ``batch`` in one transaction; returns it, or [] after failing its futures."""
        try:
            self._writer.execute("BEGIN IMMEDIATE")
            self._catch_up()
            start = self._tree.size
            rows = [(start + i, e.leaf, e.leaf_hash, e.event, e.tenant, e.time) for i, e in enumerate(batch)]
            self._writer.executemany("INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?)", rows)
            self._writer.execute("COMMIT")
        except Exception as exc:  # any failure must fail the futures, never kill the writer
            if self._writer.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self._writer.execute("ROLLBACK")
            error = LogWriteError(f"audit log write failed: {type(exc).__name__}")
            for e in batch:
                e.future.set_exception(error)
            return []
        with self._tree_lock:
            for i, e in enumerate(batch):
                if start + i == self._tree.size:  # a reader may have absorbed our committed rows already
                    self._tree.append(e.leaf_hash)
        return batch

    def _periodic_checkpoint(self) -> None:
        try:
            self._maybe_checkpoint(force=False)
        except Exception as exc:  # retried on the next batch; entries stay durable, the writer must live
            _log.warning("audit checkpoint failed: %s", type(exc).__name__)

    def _maybe_checkpoint(self, force: bool) -> None:
        if self._signer is None or self._tree.size == self._checkpointed_size:
            return
        now = self._clock()
        if not force and now - self._last_checkpoint_at < self._interval:
            return
        size = self._tree.size
        root = self._tree.root(size)
        note = self._signer.sign(self._origin, size, root)
        self._writer.execute(
            "INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?, ?)", (size, root, note, _rfc3339(now))
        )
        with self._tree_lock:
            self._latest, self._checkpointed_size = note, size
        self._last_checkpoint_at = now

    def _handle(self, control: _Control) -> None:
        try:
            self._maybe_checkpoint(force=True)
        except Exception as exc:  # reported to the caller; the writer must live
            control.future.set_exception(LogWriteError(f"checkpoint failed: {type(exc).__name__}"))
            return
        if control.kind == "close":
            self._writer.close()
        if self._latest is None:
            control.future.set_exception(AuditError("no checkpoint: the log has no signer"))
        else:
            control.future.set_result(self._latest)

    # ---- control and reads ------------------------------------------------------------------------------
    def checkpoint_now(self) -> str:
        """Sign a checkpoint now (if the size changed) and return the latest one."""
        future: Future[str] = Future()
        self._queue.put(_Control("checkpoint", future))
        return future.result()

    def close(self) -> None:
        """Commit queued entries, write a final checkpoint and stop the writer."""
        if self._closed:
            return
        self._closed = True
        future: Future[str] = Future()
        self._queue.put(_Control("close", future))
        self._thread.join()
        while True:  # entries that raced with close(): fail them rather than leave callers waiting
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Entry):
                item.future.set_exception(LogWriteError("audit log is closed"))
        with self._read_lock:
            self._reader.close()

    def size(self) -> int:
        """Number of durable entries."""
        self._refresh()
        with self._tree_lock:
            return self._tree.size

    def entries(self, start: int, end: int) -> list[bytes]:
        """Leaf bytes of entries [start, end), ``end`` clamped to the size."""
        end = min(end, self.size())
        if start < 0 or start > end:
            raise ProofError(f"bad entry range [{start}, {end})")
        with self._read_lock:
            rows = self._reader.execute(
                "SELECT leaf FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx", (start, end)
            ).fetchall()
        return [bytes(r[0]) for r in rows]

    def entry_tenant(self, index: int) -> str | None:
        """Tenant recorded on entry ``index`` (None if absent or out of range)."""
        with self._read_lock:
            row = self._reader.execute("SELECT tenant FROM entries WHERE idx = ?", (index,)).fetchone()
        return None if row is None else _text(row[0])

    def latest_checkpoint(self) -> str | None:
        """The latest signed checkpoint note."""
        with self._tree_lock:
            return self._latest

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        """Audit path of entry ``index`` in the tree of ``tree_size`` entries."""
        self._refresh()
        with self._tree_lock:
            if not 0 <= index < tree_size <= self._tree.size:
                raise ProofError(f"no inclusion proof for index {index} in size {tree_size}")
            return self._tree.inclusion_proof(index, tree_size)

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """Proof that the tree of ``second`` entries extends the tree of ``first`` entries."""
        self._refresh()
        with self._tree_lock:
            if not 0 <= first <= second <= self._tree.size:
                raise ProofError(f"no consistency proof from size {first} to {second}")
            return self._tree.consistency_proof(first, second)

    def root(self, size: int | None = None) -> bytes:
        """Root hash of the first ``size`` entries (all by default)."""
        self._refresh()
        with self._tree_lock:
            return self._tree.root(size)
