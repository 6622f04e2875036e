"""The read side of the shared PostgreSQL audit log: the in-memory Merkle tree kept current from the table.

Every replica reads the one log all replicas append to: before answering a size, entry range or proof it
absorbs the entries appended since (by itself or any other replica), checking each leaf hash and that the
indexes have no gap. psycopg is imported lazily (see ``audit.pg_log``). ``export_pg`` is the auditor's export.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from audit.errors import AuditError, LogCorruptedError, ProofError
from audit.export import ExportResult
from audit.merkle import leaf_hash
from audit.sqlite_log import _text
from audit.tree import MerkleTree


def connect(url: str) -> Any:
    import psycopg  # lazy: an auditor verifying offline never needs it

    return psycopg.connect(url, autocommit=True, connect_timeout=5)


def close_quietly(conn: Any) -> Any:
    """Close ``conn`` (it may be broken already); returns None, what the caller holds until it reconnects."""
    if conn is not None:
        with contextlib.suppress(Exception):
            conn.close()
    return None


class SharedLogReader:
    """Reads and proofs over the shared log; the writer subclass sets these attributes up."""

    _url: str
    _reader: Any
    _read_lock: threading.Lock
    _tree_lock: threading.Lock
    _tree: MerkleTree
    _latest: str | None
    _checkpointed_size: int
    _closed: bool

    # ---- reading the shared log -------------------------------------------------------------------------
    def _absorb(self, conn: Any) -> None:
        """Take in entries appended since our tree's size (by us or by any replica), checking each leaf."""
        rows = conn.execute(
            "SELECT idx, leaf, leaf_hash FROM audit_entries WHERE idx >= %s ORDER BY idx", (self._tree.size,)
        ).fetchall()
        with self._tree_lock:
            for idx, leaf, stored in rows:
                if idx < self._tree.size:
                    continue
                if idx != self._tree.size or leaf_hash(bytes(leaf)) != bytes(stored):
                    raise LogCorruptedError(f"entry {self._tree.size} is missing or does not fit the log")
                self._tree.append(bytes(stored))

    def _load_latest(self, conn: Any, *, verify: bool) -> None:
        row = conn.execute("SELECT size, root, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1").fetchone()
        if row is None:
            return
        size, root, note = int(row[0]), bytes(row[1]), str(row[2])
        with self._tree_lock:
            if verify and (size > self._tree.size or self._tree.root(size) != root):
                raise LogCorruptedError(f"stored checkpoint of size {size} does not match the entries")
            if size >= self._checkpointed_size:
                self._latest, self._checkpointed_size = note, size

    def _refresh(self) -> None:
        if self._closed:
            return

        def absorb(conn: Any) -> None:
            self._absorb(conn)
            self._load_latest(conn, verify=False)

        self._read(absorb)

    def _read(self, query: Callable[[Any], Any]) -> Any:
        """Run ``query`` on the reader connection; a connection gone stale (database restarted) is replaced once."""
        with self._read_lock:
            for attempt in (1, 2):
                try:
                    self._reader = self._reader or connect(self._url)
                    return query(self._reader)
                except LogCorruptedError:
                    raise
                except Exception as exc:
                    self._reader = close_quietly(self._reader)
                    if attempt == 2:
                        raise AuditError(f"audit log unavailable: {type(exc).__name__}") from exc
        return None  # pragma: no cover - the loop returns or raises

    def size(self) -> int:
        self._refresh()
        with self._tree_lock:
            return self._tree.size

    def entries(self, start: int, end: int) -> list[bytes]:
        end = min(end, self.size())
        if start < 0 or start > end:
            raise ProofError(f"bad entry range [{start}, {end})")
        rows = self._read(lambda conn: conn.execute(
            "SELECT leaf FROM audit_entries WHERE idx >= %s AND idx < %s ORDER BY idx", (start, end)
        ).fetchall())  # fmt: skip
        return [bytes(r[0]) for r in rows]

    def entry_tenant(self, index: int) -> str | None:
        row = self._read(
            lambda conn: conn.execute("SELECT tenant FROM audit_entries WHERE idx = %s", (index,)).fetchone()
        )
        return None if row is None else _text(row[0])

    def latest_checkpoint(self) -> str | None:
        with contextlib.suppress(AuditError):
            self._refresh()
        with self._tree_lock:
            return self._latest

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        self._refresh()
        with self._tree_lock:
            if not 0 <= index < tree_size <= self._tree.size:
                raise ProofError(f"no inclusion proof for index {index} in size {tree_size}")
            return self._tree.inclusion_proof(index, tree_size)

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        self._refresh()
        with self._tree_lock:
            if not 0 <= first <= second <= self._tree.size:
                raise ProofError(f"no consistency proof from size {first} to {second}")
            return self._tree.consistency_proof(first, second)

    def root(self, size: int | None = None) -> bytes:
        self._refresh()
        with self._tree_lock:
            return self._tree.root(size)


def export_pg(url: str, out: Path, checkpoint_out: Path) -> ExportResult:
    """Write the checkpointed entries of the shared log to ``out`` (JSONL) and its latest checkpoint."""
    import psycopg

    try:
        return _export(url, out, checkpoint_out)
    except psycopg.Error as exc:  # libpq's message may name the host and user: the class is enough
        raise AuditError(f"cannot read the audit log from the database: {type(exc).__name__}") from exc


def _export(url: str, out: Path, checkpoint_out: Path) -> ExportResult:
    with connect(url) as conn, conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        row = conn.execute("SELECT size, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1").fetchone()
        if row is None:
            raise AuditError("the audit log has no signed checkpoint yet")
        size, note = int(row[0]), str(row[1])
        total = int(conn.execute("SELECT COUNT(*) FROM audit_entries").fetchone()[0])
        with out.open("wb") as f:
            rows = conn.execute("SELECT idx, leaf FROM audit_entries WHERE idx < %s ORDER BY idx", (size,))
            for expected, (idx, leaf) in enumerate(rows):
                if idx != expected or b"\n" in bytes(leaf):
                    raise AuditError(f"entry {expected} is missing or malformed in the stored log")
                f.write(bytes(leaf) + b"\n")
    checkpoint_out.write_text(note, encoding="utf-8")
    return ExportResult(size, total - size)
