"""The audit log shared by every gateway replica: PostgreSQL, group commit, one Merkle log across processes.

Each replica runs one writer thread that drains its queue and appends the whole group in one transaction
that first takes a transaction-scoped advisory lock: appends from all replicas are serialized by the
database, each writer catches up on what the others appended before numbering its own entries, so there is
one sequence with no gaps and no forks. A future resolves only after COMMIT returned (the entry is durable).

Checkpoints are signed by whichever replica holds the writer role: a session-level advisory lock that one
replica's connection holds until it closes or dies, after which another replica takes it within one
checkpoint interval. Replicas share the audit signing key, so every checkpoint verifies under it.

psycopg is imported inside this module's functions only: an auditor installing ``audit`` alone for offline
verification does not need it. Lock keys are derived from the schema's name, so separate schemas in one
database are separate logs.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any

from audit.canonical import canonical_json
from audit.checkpoint import CheckpointSigner
from audit.errors import AuditError, LogWriteError
from audit.merkle import leaf_hash
from audit.pg_reader import SharedLogReader, close_quietly, connect
from audit.sqlite_log import _Control, _Entry, _rfc3339, _text
from audit.tree import MerkleTree

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_entries (idx BIGINT PRIMARY KEY, leaf BYTEA NOT NULL, leaf_hash BYTEA NOT NULL,
                                          event TEXT, tenant TEXT, time TEXT);
CREATE TABLE IF NOT EXISTS audit_checkpoints (size BIGINT PRIMARY KEY, root BYTEA NOT NULL, note TEXT NOT NULL,
                                              time TEXT);
"""
_APPEND_LOCK = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':audit-append'))"
_WRITER_ROLE = "SELECT pg_try_advisory_lock(hashtext(current_schema() || ':audit-writer'))"
_log = logging.getLogger(__name__)


class PgAuditLog(SharedLogReader):
    """Append-only Merkle log in PostgreSQL; see :class:`audit.backend.AuditLogBackend`."""

    def __init__(
        self,
        url: str,
        signer: CheckpointSigner | None,
        origin: str,
        checkpoint_interval_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._url, self._signer, self._origin = url, signer, origin
        self._interval, self._clock = checkpoint_interval_s, clock
        self._writer: Any = connect(url)  # None while the database is unreachable: reconnected on next use
        self._writer.execute(SCHEMA)
        self._role: Any = None  # the connection holding the writer role, when this replica holds it
        self._reader: Any = connect(url)
        self._read_lock, self._tree_lock = threading.Lock(), threading.Lock()
        self._tree = MerkleTree()
        self._latest: str | None = None
        self._checkpointed_size = -1
        self._absorb(self._writer)
        self._load_latest(self._writer, verify=True)
        self._last_checkpoint_at = clock()
        self._queue: queue.SimpleQueue[_Entry | _Control] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="audit-log-writer", daemon=True)
        self._thread.start()

    @property
    def holds_writer_role(self) -> bool:
        return self._role is not None

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
        self._queue.put(_Entry(leaf, leaf_hash(leaf), _text(entry.get("event")), _text(entry.get("tenant")),
                               _text(entry.get("time")), future))  # fmt: skip
        return future

    def append(self, entry: Mapping[str, Any]) -> int:
        return self.submit(entry).result()

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=self._interval if self._signer is not None else None)
            except queue.Empty:
                self._periodic_checkpoint()
                continue
            batch = [first]
            with contextlib.suppress(queue.Empty):
                while True:
                    batch.append(self._queue.get_nowait())
            entries = [b for b in batch if isinstance(b, _Entry)]
            controls = [b for b in batch if isinstance(b, _Control)]
            committed = self._commit(entries) if entries else []
            self._periodic_checkpoint()
            for index, e in committed:
                e.future.set_result(index)
            for control in controls:
                self._handle(control)
                if control.kind == "close":
                    return

    def _commit(self, batch: list[_Entry]) -> list[tuple[int, _Entry]]:
        """Append ``batch`` in one transaction under the append lock; [] after failing its futures."""
        try:
            self._writer = self._writer or connect(self._url)
            with self._writer.transaction():
                self._writer.execute(_APPEND_LOCK)
                self._absorb(self._writer)  # every other replica's committed entries come first
                start = self._tree.size
                with self._writer.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO audit_entries VALUES (%s, %s, %s, %s, %s, %s)",
                        [(start + i, e.leaf, e.leaf_hash, e.event, e.tenant, e.time) for i, e in enumerate(batch)],
                    )
        except Exception as exc:  # any failure must fail the futures, never kill the writer
            _log.warning("audit append failed: %s", type(exc).__name__)
            self._writer = close_quietly(self._writer)
            error = LogWriteError(f"audit log write failed: {type(exc).__name__}")
            for e in batch:
                e.future.set_exception(error)
            return []
        with self._tree_lock:
            for i, e in enumerate(batch):
                if start + i == self._tree.size:  # a reader may have absorbed our committed rows already
                    self._tree.append(e.leaf_hash)
        return [(start + i, e) for i, e in enumerate(batch)]

    def _take_role(self) -> bool:
        """Hold the writer role if no other replica does; a dead role connection gives it up."""
        if self._signer is None:
            return False
        if self._role is not None:
            try:
                self._role.execute("SELECT 1")
                return True
            except Exception:
                self._role = close_quietly(self._role)
        try:
            conn = connect(self._url)
        except Exception:
            return False
        if conn.execute(_WRITER_ROLE).fetchone()[0]:
            self._role = conn
            _log.info("this replica now signs audit checkpoints")
            return True
        conn.close()
        return False

    def _periodic_checkpoint(self) -> None:
        try:
            self._maybe_checkpoint(force=False)
        except Exception as exc:  # retried on the next batch; entries stay durable, the writer must live
            _log.warning("audit checkpoint failed: %s", type(exc).__name__)
            self._writer = close_quietly(self._writer)

    def _maybe_checkpoint(self, force: bool) -> None:
        now = self._clock()
        if not force and now - self._last_checkpoint_at < self._interval:
            return
        self._last_checkpoint_at = now
        if self._signer is None or not self._take_role():
            return
        self._writer = self._writer or connect(self._url)
        self._absorb(self._writer)  # cover what every replica appended
        if self._tree.size == self._checkpointed_size:
            return
        size = self._tree.size
        root = self._tree.root(size)
        note = self._signer.sign(self._origin, size, root)
        self._writer.execute(
            "INSERT INTO audit_checkpoints VALUES (%s, %s, %s, %s) ON CONFLICT (size) DO NOTHING",
            (size, root, note, _rfc3339(now)),
        )
        with self._tree_lock:
            self._latest, self._checkpointed_size = note, size

    def _handle(self, control: _Control) -> None:
        try:
            self._maybe_checkpoint(force=True)
            self._writer = self._writer or connect(self._url)
            self._load_latest(self._writer, verify=False)
        except Exception as exc:  # reported to the caller; the writer must live
            control.future.set_exception(LogWriteError(f"checkpoint failed: {type(exc).__name__}"))
            return
        finally:
            if control.kind == "close":
                self._writer, self._role = close_quietly(self._writer), close_quietly(self._role)
        if self._latest is None:
            control.future.set_exception(AuditError("no checkpoint has been signed yet"))
        else:
            control.future.set_result(self._latest)

    # ---- control and reads ------------------------------------------------------------------------------
    def checkpoint_now(self) -> str:
        """Sign a checkpoint now if this replica holds the writer role; else the latest one any replica signed."""
        future: Future[str] = Future()
        self._queue.put(_Control("checkpoint", future))
        return future.result()

    def close(self) -> None:
        """Commit queued entries, sign a final checkpoint (when holding the role) and release the role."""
        if self._closed:
            return
        self._closed = True
        future: Future[str] = Future()
        self._queue.put(_Control("close", future))
        self._thread.join()
        with contextlib.suppress(queue.Empty):
            while True:
                item = self._queue.get_nowait()
                if isinstance(item, _Entry):
                    item.future.set_exception(LogWriteError("audit log is closed"))
        with self._read_lock:
            self._reader = close_quietly(self._reader)
