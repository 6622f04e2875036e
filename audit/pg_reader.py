"""The read side of the shared PostgreSQL audit log: the in-memory Merkle tree kept current from the table.

Every replica reads the one log all replicas append to: before answering a size, entry range or proof it
absorbs the entries appended since (by itself or any other replica), checking each leaf hash and that the
indexes have no gap. The reads and proofs themselves are in ``audit.log_reads``: this is their leaves source.
psycopg is imported lazily (see ``audit.pg_log``). ``export_pg`` is the auditor's export.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from audit.errors import AuditError, LogCorruptedError
from audit.export import ExportResult
from audit.log_reads import LogReads


def connect(url: str) -> Any:
    import psycopg  # lazy: an auditor verifying offline never needs it

    return psycopg.connect(url, autocommit=True, connect_timeout=5)


def close_quietly(conn: Any) -> Any:
    """Close ``conn`` (it may be broken already); returns None, what the caller holds until it reconnects."""
    if conn is not None:
        with contextlib.suppress(Exception):
            conn.close()
    return None


class SharedLogReader(LogReads):
    """The shared log's leaves source; ``audit.pg_log.PgAuditLog`` sets these attributes up."""

    _url: str
    _reader: Any
    _read_lock: threading.Lock
    _closed: bool

    def _absorb(self, conn: Any) -> None:
        """Take in entries appended since our tree's size (by us or by any replica), checking each leaf."""
        self._take_in(conn.execute(
            "SELECT idx, leaf, leaf_hash FROM audit_entries WHERE idx >= %s ORDER BY idx", (self._tree.size,)
        ).fetchall())  # fmt: skip

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

    def _leaves(self, start: int, end: int) -> Sequence[Sequence[Any]]:
        rows: Sequence[Sequence[Any]] = self._read(lambda conn: conn.execute(
            "SELECT leaf FROM audit_entries WHERE idx >= %s AND idx < %s ORDER BY idx", (start, end)
        ).fetchall())  # fmt: skip
        return rows

    def _tenant(self, index: int) -> Sequence[Any] | None:
        row: Sequence[Any] | None = self._read(
            lambda conn: conn.execute("SELECT tenant FROM audit_entries WHERE idx = %s", (index,)).fetchone()
        )
        return row

    def latest_checkpoint(self) -> str | None:
        with contextlib.suppress(AuditError):  # the database may be away: the last one seen still stands
            self._refresh()
        return super().latest_checkpoint()


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
