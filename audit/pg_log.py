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

import logging
import time
from collections.abc import Callable
from typing import Any

from audit.checkpoint import CheckpointSigner
from audit.group_commit import Entry, GroupCommitLog
from audit.pg_reader import SharedLogReader, close_quietly, connect

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_entries (idx BIGINT PRIMARY KEY, leaf BYTEA NOT NULL, leaf_hash BYTEA NOT NULL,
                                          event TEXT, tenant TEXT, time TEXT);
CREATE TABLE IF NOT EXISTS audit_checkpoints (size BIGINT PRIMARY KEY, root BYTEA NOT NULL, note TEXT NOT NULL,
                                              time TEXT);
CREATE TABLE IF NOT EXISTS audit_follow_positions (name TEXT PRIMARY KEY, next BIGINT NOT NULL);
"""
_APPEND_LOCK = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':audit-append'))"
_WRITER_ROLE = "SELECT pg_try_advisory_lock(hashtext(current_schema() || ':audit-writer'))"
_FOLLOW_ROLE = "SELECT pg_try_advisory_lock(hashtext(current_schema() || %s))"
_log = logging.getLogger(__name__)


class PgAuditLog(SharedLogReader, GroupCommitLog):
    """Append-only Merkle log in PostgreSQL; see :class:`audit.backend.AuditLogBackend`."""

    no_checkpoint = "no checkpoint has been signed yet"

    def __init__(
        self,
        url: str,
        signer: CheckpointSigner | None,
        origin: str,
        checkpoint_interval_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(signer, origin, checkpoint_interval_s, clock)
        self._url = url
        self._writer: Any = connect(url)  # None while the database is unreachable: reconnected on next use
        self._writer.execute(SCHEMA)
        self._role: Any = None  # the connection holding the writer role, when this replica holds it
        self._follow_roles: dict[str, Any] = {}  # follower name -> the connection holding its role
        self._reader: Any = connect(url)
        self._absorb(self._writer)
        self._load_latest(self._writer, verify=True)
        self._start()

    @property
    def holds_writer_role(self) -> bool:
        return self._role is not None

    def _insert(self, batch: list[Entry]) -> int:
        self._writer = self._writer or connect(self._url)
        with self._writer.transaction():
            self._writer.execute(_APPEND_LOCK)
            self._absorb(self._writer)  # every other replica's committed entries come first
            start = self._tree.size
            with self._writer.cursor() as cur:
                cur.executemany("INSERT INTO audit_entries VALUES (%s, %s, %s, %s, %s, %s)",
                                [e.row(start + i) for i, e in enumerate(batch)])  # fmt: skip
        return start

    def _reset_writer(self) -> None:
        self._writer = close_quietly(self._writer)  # reconnected on next use

    def follow_position(self, name: str) -> int | None:
        row = self._read(lambda conn: conn.execute(
            "SELECT next FROM audit_follow_positions WHERE name = %s", (name,)).fetchone())
        return None if row is None else int(row[0])

    def save_follow_position(self, name: str, next_index: int) -> None:
        self._read(lambda conn: conn.execute(  # autocommit: committed when it returns
            "INSERT INTO audit_follow_positions VALUES (%s, %s) ON CONFLICT (name) DO UPDATE SET next = EXCLUDED.next",
            (name, next_index)))

    def _idle_timeout(self) -> float | None:
        return self._interval if self._signer is not None else None  # other replicas append: check every interval

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

    def _maybe_checkpoint(self, force: bool) -> None:
        now = self._clock()
        if not force and now - self._last_checkpoint_at < self._interval:
            return
        self._last_checkpoint_at = now
        if self._signer is None or not self._take_role():
            return
        self._writer = self._writer or connect(self._url)
        self._absorb(self._writer)  # cover what every replica appended
        if self._tree.size != self._checkpointed_size:
            self._sign_checkpoint(now)

    def _store_checkpoint(self, size: int, root: bytes, note: str, time: str) -> None:
        self._writer.execute(
            "INSERT INTO audit_checkpoints VALUES (%s, %s, %s, %s) ON CONFLICT (size) DO NOTHING",
            (size, root, note, time),
        )

    def _update_checkpoint_note(self, size: int, note: str) -> None:
        self._writer = self._writer or connect(self._url)
        self._writer.execute("UPDATE audit_checkpoints SET note = %s WHERE size = %s", (note, size))

    def _final_checkpoint(self) -> None:
        """Sign now if this replica holds the writer role; either way, return the latest any replica signed."""
        self._maybe_checkpoint(force=True)
        self._writer = self._writer or connect(self._url)
        self._load_latest(self._writer, verify=False)

    def _close_writer(self) -> None:
        self._writer, self._role = close_quietly(self._writer), close_quietly(self._role)  # releases the role

    def hold_follow_role(self, name: str) -> bool:
        """A session-level advisory lock on a connection of its own, as the writer role."""
        with self._read_lock:
            held = self._follow_roles.pop(name, None)
            if held is not None:
                try:
                    held.execute("SELECT 1")
                    self._follow_roles[name] = held
                    return True
                except Exception:  # the connection died, and the lock with it: take it again if free
                    close_quietly(held)
            try:
                conn = connect(self._url)
            except Exception:
                return False
            if conn.execute(_FOLLOW_ROLE, (f":follow:{name}",)).fetchone()[0]:
                self._follow_roles[name] = conn
                return True
            conn.close()
            return False

    def _close_reader(self) -> None:
        self._reader = close_quietly(self._reader)
        for conn in self._follow_roles.values():
            close_quietly(conn)  # releases the follower roles
        self._follow_roles.clear()
