"""The embedded backend's tables, statements, and the vector source its FAISS indexes are built from.

Tables are prefixed ``store_`` because the embedded database file may be shared with the key, audit and
API-key tables. ``store_chunks.id`` (AUTOINCREMENT, so never reused) is the FAISS id of the chunk;
``store_changes`` is the change sequence snapshots record and every worker process follows
(``gateway.store.follow``). Writes are serialized by the database's write lock (``BEGIN IMMEDIATE``), so the
sequence commits in order. After a snapshot at seq s, the collection's changes below s are deleted once they are
older than the retention (``IndexSettings.change_retention_s``), and ``store_collections.changes_pruned_through``
records the highest seq deleted: a worker still behind it gets ``ChangesPruned`` and reloads from the snapshot
instead of replaying a sequence with a hole in it, as on PostgreSQL. Columns and row mapping are shared with the
PostgreSQL backend (``rows``). See ``docs/storage.md``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from gateway.store.base import Collection, IntegrityFailure
from gateway.store.codec import ChunkCodec, SealedChunk
from gateway.store.indexes import Change, ChangesPruned
from gateway.store.rows import CHUNK_COLUMNS, DecryptingSource, chunk_values, insert_chunk_sql

SCHEMA = """
CREATE TABLE IF NOT EXISTS store_collections (
    tenant TEXT NOT NULL,
    name TEXT NOT NULL,
    model TEXT NOT NULL,
    model_version TEXT NOT NULL,
    dimension INTEGER NOT NULL CHECK (dimension > 0),
    index_type TEXT NOT NULL CHECK (index_type IN ('flat', 'hnsw', 'ivf')),
    retain_text INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    chunk_count INTEGER NOT NULL DEFAULT 0,  -- kept in the writing transaction: no COUNT(*) on the hot path
    changes_pruned_through INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, name)
);
CREATE TABLE IF NOT EXISTS store_chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id TEXT NOT NULL UNIQUE,
    tenant TEXT NOT NULL,
    collection TEXT NOT NULL,
    document_id TEXT NOT NULL,
    chunk_index INTEGER NOT NULL,
    span_start INTEGER NOT NULL,
    span_end INTEGER NOT NULL,
    vector BLOB NOT NULL,
    text BLOB,
    metadata BLOB NOT NULL,
    provenance TEXT NOT NULL,
    key_version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    audit_index INTEGER,
    UNIQUE (tenant, collection, document_id, chunk_index),
    FOREIGN KEY (tenant, collection) REFERENCES store_collections (tenant, name)
);
CREATE TABLE IF NOT EXISTS store_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    collection TEXT NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('add', 'remove', 'drop')),
    chunk_id INTEGER,
    changed_at REAL  -- epoch seconds; NULL on rows written before the column existed (they count as old)
);
CREATE INDEX IF NOT EXISTS store_changes_by_collection ON store_changes (tenant, collection, seq);
-- One row per ingest entry: 'committed' in the transaction that stores its chunks, or 'unfinished' when the entry's
-- write never happened (Store.mark_unfinished). The primary key makes the two exclusive.
CREATE TABLE IF NOT EXISTS store_commits (
    audit_index INTEGER PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('committed', 'unfinished'))
);
"""

# Columns added after the first release, for data dirs created before them: (table, column, declaration).
_ADDED_COLUMNS = (
    ("store_collections", "changes_pruned_through", "INTEGER NOT NULL DEFAULT 0"),
    ("store_changes", "changed_at", "REAL"),
)
# changed_at in epoch seconds, from the database's clock: (julianday('now') - 2440587.5) * 86400
_INSERT_CHANGE = ("INSERT INTO store_changes (tenant, collection, op, chunk_id, changed_at) "
                  "VALUES (?, ?, ?, ?, (julianday('now') - 2440587.5) * 86400.0)")
_BATCH = 500  # host parameters per IN (...) list
_INSERT_CHUNK = insert_chunk_sql("?")


def upgrade(conn: sqlite3.Connection) -> None:
    """Create the tables and add the columns a data dir from an earlier version lacks (workers starting together
    do it once: the write lock serializes them and each checks inside it)."""
    conn.executescript(SCHEMA)
    with transaction(conn) as tx:
        for table, column, declaration in _ADDED_COLUMNS:
            if column not in {row[1] for row in tx.execute(f"PRAGMA table_info({table})")}:
                tx.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")


def chunk_rows(conn: sqlite3.Connection, c: Collection, ids: Sequence[int]) -> Iterator[Sequence[Any]]:
    """Rows of the collection's chunks among ``ids`` (the tenant and collection are always part of the query)."""
    for start in range(0, len(ids), _BATCH):
        batch = list(ids[start : start + _BATCH])
        marks = ",".join("?" * len(batch))
        yield from conn.execute(
            f"SELECT {CHUNK_COLUMNS} FROM store_chunks "  # noqa: S608 - only placeholders are interpolated
            # Unary + keeps the planner on the primary key: the (tenant, collection, ...) index would scan.
            f"WHERE id IN ({marks}) AND +tenant = ? AND +collection = ?",
            (*batch, c.tenant, c.name),
        )


@contextmanager
def transaction(conn: sqlite3.Connection, mode: str = "IMMEDIATE") -> Iterator[sqlite3.Connection]:
    """An explicit transaction on an autocommit connection: commit on success, roll back on any error."""
    conn.execute(f"BEGIN {mode}")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def last_seq(conn: sqlite3.Connection) -> int:
    """The change sequence's high-water mark (AUTOINCREMENT's, so pruning old changes never lowers it)."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'store_changes'").fetchone()
    return 0 if row is None else int(row[0])


class SQLiteVectorSource(DecryptingSource):
    """Decrypted vectors and the change sequence, for ``IndexManager``; unreadable vectors are reported."""

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        codec: ChunkCodec,
        report: Callable[[IntegrityFailure], None],
        retention_s: float = 0.0,  # IndexSettings.change_retention_s
    ) -> None:
        super().__init__(codec, report)
        self._connect = connect
        self._retention_s = retention_s

    def current_vectors(self, c: Collection) -> tuple[int, np.ndarray, np.ndarray]:
        # One read transaction: WAL gives it a consistent view, so the seq matches the rows.
        with transaction(self._connect(), "DEFERRED") as conn:
            # The collection's own latest change (kept by ``prune``), as on PostgreSQL: a snapshot at that seq
            # leaves a change that other workers' ``changed`` query still sees, and so catch up from.
            seq = int(conn.execute(
                "SELECT coalesce(max(seq), 0) FROM store_changes WHERE tenant = ? AND collection = ?",
                (c.tenant, c.name),
            ).fetchone()[0])
            rows = conn.execute(
                "SELECT id, record_id, vector FROM store_chunks WHERE tenant = ? AND collection = ? ORDER BY id",
                (c.tenant, c.name),
            ).fetchall()
        ids, vectors = self._open(c, rows)
        return seq, ids, vectors

    def changes_after(self, c: Collection, seq: int) -> list[Change]:
        with transaction(self._connect(), "DEFERRED") as conn:  # one view: the rows and the prune mark agree
            rows = conn.execute(
                "SELECT seq, op, chunk_id FROM store_changes WHERE tenant = ? AND collection = ? AND seq > ? "
                "ORDER BY seq",
                (c.tenant, c.name, seq),
            ).fetchall()
            mark = conn.execute(
                "SELECT changes_pruned_through FROM store_collections WHERE tenant = ? AND name = ?",
                (c.tenant, c.name),
            ).fetchone()
        if mark is not None and seq < int(mark[0]):
            raise ChangesPruned(f"changes of {c.tenant}/{c.name} after {seq} were pruned up to {mark[0]}")
        return [Change(int(s), op, None if chunk is None else int(chunk)) for s, op, chunk in rows]

    def prune(self, c: Collection, seq: int) -> None:
        """A snapshot covers ``seq``: delete the older changes past the retention and mark how far that went. The
        change at ``seq`` stays, so that the collection's latest seq stays readable."""
        with transaction(self._connect()) as conn:
            gone = conn.execute(
                "DELETE FROM store_changes WHERE tenant = ? AND collection = ? AND seq < ? "
                "AND coalesce(changed_at, 0) <= (julianday('now') - 2440587.5) * 86400.0 - ? RETURNING seq",
                (c.tenant, c.name, seq, self._retention_s),
            ).fetchall()
            if gone:
                conn.execute(
                    "UPDATE store_collections SET changes_pruned_through = max(changes_pruned_through, ?) "
                    "WHERE tenant = ? AND name = ? AND created_at = ?",
                    (max(int(g[0]) for g in gone), c.tenant, c.name, c.created_at),
                )

    def vectors(self, c: Collection, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        conn = self._connect()
        rows = [(row[0], row[1], row[6]) for row in chunk_rows(conn, c, ids)]
        return self._open(c, sorted(rows))


def insert_chunk(conn: sqlite3.Connection, c: Collection, s: SealedChunk) -> int:
    """Insert a sealed chunk and its 'add' change; returns its chunk id (the FAISS id)."""
    cursor = conn.execute(_INSERT_CHUNK, chunk_values(c, s))
    chunk_id = int(cursor.lastrowid or 0)
    conn.execute(_INSERT_CHANGE, (c.tenant, c.name, "add", chunk_id))
    return chunk_id


def record_commit(conn: sqlite3.Connection, sealed: Sequence[SealedChunk]) -> None:
    """The ingest entry this write belongs to is committed with it (fails if it was declared unfinished)."""
    indexes = {s.audit_index for s in sealed if s.audit_index is not None}
    conn.executemany("INSERT INTO store_commits (audit_index, state) VALUES (?, 'committed')",
                     [(i,) for i in indexes])


def mark_unfinished(conn: sqlite3.Connection, indexes: Sequence[int]) -> list[int]:
    marked = []
    for index in indexes:
        cur = conn.execute("INSERT OR IGNORE INTO store_commits (audit_index, state) VALUES (?, 'unfinished')",
                           (index,))
        if cur.rowcount == 1:
            marked.append(index)
    return marked


def count_chunks(conn: sqlite3.Connection, c: Collection, delta: int) -> None:
    conn.execute(
        "UPDATE store_collections SET chunk_count = chunk_count + ? WHERE tenant = ? AND name = ?",
        (delta, c.tenant, c.name),
    )


def delete_documents(conn: sqlite3.Connection, c: Collection, documents: set[str]) -> list[int]:
    """Delete the documents' chunks, recording a 'remove' change each; returns their chunk ids."""
    removed: list[int] = []
    for document_id in sorted(documents):
        removed += [int(row[0]) for row in conn.execute(
            "DELETE FROM store_chunks WHERE tenant = ? AND collection = ? AND document_id = ? RETURNING id",
            (c.tenant, c.name, document_id),
        )]  # fmt: skip
    conn.executemany(_INSERT_CHANGE, [(c.tenant, c.name, "remove", chunk_id) for chunk_id in sorted(removed)])
    count_chunks(conn, c, -len(removed))
    return removed


def delete_older(conn: sqlite3.Connection, c: Collection, cutoff: str) -> list[int]:
    """Delete the chunks stored before ``cutoff``, recording a 'remove' change each; returns their chunk ids."""
    removed = sorted(int(row[0]) for row in conn.execute(
        "DELETE FROM store_chunks WHERE tenant = ? AND collection = ? AND created_at < ? RETURNING id",
        (c.tenant, c.name, cutoff),
    ))  # fmt: skip
    conn.executemany(_INSERT_CHANGE, [(c.tenant, c.name, "remove", chunk_id) for chunk_id in removed])
    count_chunks(conn, c, -len(removed))
    return removed


def delete_collection(conn: sqlite3.Connection, tenant: str, name: str) -> int | None:
    """Delete a collection and its chunks, recording a 'drop' change; None if there was no such collection."""
    exists = conn.execute("SELECT 1 FROM store_collections WHERE tenant = ? AND name = ?", (tenant, name))
    if exists.fetchone() is None:
        return None
    count = conn.execute("DELETE FROM store_chunks WHERE tenant = ? AND collection = ?", (tenant, name)).rowcount
    conn.execute("DELETE FROM store_collections WHERE tenant = ? AND name = ?", (tenant, name))
    conn.execute(_INSERT_CHANGE, (tenant, name, "drop", None))
    return int(count)


@contextmanager
def secure_delete(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Zero deleted ciphertexts in the database file instead of leaving them in free pages."""
    previous = int(conn.execute("PRAGMA secure_delete").fetchone()[0])
    conn.execute("PRAGMA secure_delete = ON")
    try:
        yield conn
    finally:
        conn.execute(f"PRAGMA secure_delete = {previous}")
