"""The embedded audit log: SQLite (WAL, synchronous=FULL) with group commit and signed checkpoints.

One writer thread owns the write connection (``group_commit`` has the queue, the group commit and the
checkpoint cadence; ``log_reads`` the proofs). Several processes may append to one file (the gateway's worker
processes and the operator's CLI): the database's write lock (``BEGIN IMMEDIATE``, waited for up to
``BUSY_TIMEOUT_S``) serializes them and each writer first takes in what the others appended, inside that lock, so
there is one sequence with no gaps and no forks.

Checkpoints are signed by one process at a time, the holder of the signer role: an exclusive ``flock`` on
``<log>.signer`` that the kernel releases when the process closes the log or dies, after which another process
takes it within one checkpoint interval (as ``pg_log``'s advisory lock does). So checkpoints grow in size one
after the other, as witnesses require, whichever worker appended the entries they cover. A process without the
role reports the latest checkpoint stored by whichever process signed it.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from audit.checkpoint import CheckpointSigner
from audit.errors import LogCorruptedError
from audit.group_commit import Entry, GroupCommitLog
from audit.merkle import leaf_hash

_log = logging.getLogger(__name__)
BUSY_TIMEOUT_S = 30.0  # how long an append waits for another process's transaction
_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries(idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL, leaf_hash BLOB NOT NULL,
                                   event TEXT, tenant TEXT, time TEXT);
CREATE TABLE IF NOT EXISTS checkpoints(size INTEGER PRIMARY KEY, root BLOB, note TEXT, time TEXT);
CREATE TABLE IF NOT EXISTS follow_positions(name TEXT PRIMARY KEY, next INTEGER NOT NULL);
"""


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_S)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


class SQLiteAuditLog(GroupCommitLog):
    """Append-only Merkle log in one SQLite file; see :class:`audit.backend.AuditLogBackend`."""

    no_checkpoint = "no checkpoint: the log has no signer"

    def __init__(
        self,
        path: Path,
        signer: CheckpointSigner | None,
        origin: str,
        checkpoint_interval_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(signer, origin, checkpoint_interval_s, clock)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        self._writer = _connect(path)
        self._writer.executescript(_SCHEMA)
        self._reader = _connect(path)
        self._role_path = path.with_name(path.name + ".signer")
        self._follow_roles: dict[str, int] = {}  # follower name -> its locked file descriptor
        self._role: int | None = None  # the locked file descriptor while this process signs
        self._rebuild()
        self._start()

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

    def _absorb(self, conn: sqlite3.Connection) -> None:
        """Take in entries another process appended (e.g. the operator's CLI)."""
        self._take_in(conn.execute(
            "SELECT idx, leaf, leaf_hash FROM entries WHERE idx >= ? ORDER BY idx", (self._tree.size,)
        ).fetchall())  # fmt: skip

    # ---- the leaves source --------------------------------------------------------------------------------
    def _refresh(self) -> None:
        """Readers see entries other writers committed, too."""
        with self._read_lock:
            if not self._closed:
                self._absorb(self._reader)

    def _leaves(self, start: int, end: int) -> Sequence[Sequence[Any]]:
        with self._read_lock:
            return self._reader.execute(
                "SELECT leaf FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx", (start, end)
            ).fetchall()

    def _tenant(self, index: int) -> Sequence[Any] | None:
        with self._read_lock:
            row: Sequence[Any] | None = self._reader.execute(
                "SELECT tenant FROM entries WHERE idx = ?", (index,)
            ).fetchone()
        return row

    # ---- followers' positions (autocommit: each save is its own durable transaction) --------------------------
    def follow_position(self, name: str) -> int | None:
        with self._read_lock:
            row = self._reader.execute("SELECT next FROM follow_positions WHERE name = ?", (name,)).fetchone()
        return None if row is None else int(row[0])

    def save_follow_position(self, name: str, next_index: int) -> None:
        with self._read_lock:
            self._reader.execute("INSERT INTO follow_positions VALUES (?, ?) "
                                 "ON CONFLICT (name) DO UPDATE SET next = excluded.next", (name, next_index))

    def hold_follow_role(self, name: str) -> bool:
        """A non-blocking ``flock`` of ``<audit.db>.<name>``, as the signer role."""
        with self._read_lock:
            if name in self._follow_roles:
                return True
            fd = os.open(self._role_path.with_name(f"{self._role_path.stem}.{name}"), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            self._follow_roles[name] = fd
            return True

    # ---- the writer ---------------------------------------------------------------------------------------
    def _insert(self, batch: list[Entry]) -> int:
        self._writer.execute("BEGIN IMMEDIATE")  # the write lock: appends of every process are serialized
        self._absorb(self._writer)
        start = self._tree.size
        self._writer.executemany("INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?)",
                                 [e.row(start + i) for i, e in enumerate(batch)])  # fmt: skip
        self._writer.execute("COMMIT")
        return start

    def _reset_writer(self) -> None:
        if self._writer.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._writer.execute("ROLLBACK")

    def _idle_timeout(self) -> float | None:
        return self._interval if self._signer is not None else None  # other processes append: check every interval

    def _take_role(self) -> bool:
        """Hold the signer role if no other process does (a non-blocking ``flock``; held until close or death)."""
        if self._role is not None:
            return True
        fd = os.open(self._role_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._role = fd
        _log.info("this process now signs audit checkpoints")
        return True

    def _maybe_checkpoint(self, force: bool) -> None:
        if self._signer is None:
            return
        now = self._clock()
        if not force and now - self._last_checkpoint_at < self._interval:
            return
        self._last_checkpoint_at = now
        if not self._take_role():
            return
        self._absorb(self._writer)  # cover what every process appended
        if self._tree.size != self._checkpointed_size:
            self._sign_checkpoint(now)

    def _final_checkpoint(self) -> None:
        """Sign now if this process holds the signer role; either way, return the latest any process stored."""
        self._maybe_checkpoint(force=True)
        self._load_latest()

    def _load_latest(self) -> None:
        """Take the largest stored checkpoint, if it is newer than this process's and matches its tree."""
        self._absorb(self._writer)
        row = self._writer.execute("SELECT size, root, note FROM checkpoints ORDER BY size DESC LIMIT 1").fetchone()
        if row is None:
            return
        size, root, note = int(row[0]), bytes(row[1]), str(row[2])
        with self._tree_lock:
            if self._checkpointed_size < size <= self._tree.size and self._tree.root(size) == root:
                self._latest, self._checkpointed_size = note, size

    def _store_checkpoint(self, size: int, root: bytes, note: str, time: str) -> None:
        self._writer.execute("INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?, ?)", (size, root, note, time))

    def _update_checkpoint_note(self, size: int, note: str) -> None:
        self._writer.execute("UPDATE checkpoints SET note = ? WHERE size = ?", (note, size))

    def _close_writer(self) -> None:
        self._writer.close()
        if self._role is not None:
            os.close(self._role)  # releases the signer role
            self._role = None

    def _close_reader(self) -> None:
        self._reader.close()
        for fd in self._follow_roles.values():
            os.close(fd)  # releases the follower roles
        self._follow_roles.clear()
