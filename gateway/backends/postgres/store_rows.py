"""The PostgreSQL backend's statements, its vector source and its shared index snapshots.

Tables are created by ``migrations``. ``store_chunks.id`` (BIGSERIAL, never reused) is the FAISS id;
``store_changes`` is the change sequence every replica follows. Writers lock the collection's row
(``SELECT ... FOR UPDATE``) before taking sequence numbers, so within one collection the change sequence
commits in order: a replica that has applied up to seq s has seen every change of that collection below s.
After a snapshot at seq s, the collection's changes below s are deleted once they are older than the retention
(``IndexSettings.change_retention_s``), and ``store_collections.changes_pruned_through`` records the highest seq
deleted: a replica still behind it gets ``ChangesPruned`` and reloads from the snapshot instead of replaying a
sequence with a hole in it (which would miss an add or, worse, a removal). The change at s itself is kept, so
the collection's latest seq stays readable. Snapshots are
encrypted exactly as the embedded backend's files, but stored in ``store_snapshots`` where every replica sees
them (never in a local file); deleting the collection's row cascades to them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import psycopg
from psycopg.rows import TupleRow

from gateway.backends.postgres.connection import PgDatabase
from gateway.crypto import Envelope, RecordContext
from gateway.errors import NotFound
from gateway.store.base import Collection, IntegrityFailure
from gateway.store.codec import ChunkCodec, SealedChunk
from gateway.store.indexes import Change, ChangesPruned
from gateway.store.rows import DecryptingSource, chunk_values, insert_chunk_sql
from gateway.store.snapshots import SnapshotFiles

Conn = psycopg.Connection[TupleRow]
CHANNEL = "store"
_INSERT_CHUNK = insert_chunk_sql("%s") + " RETURNING id"


def lock_collection(conn: Conn, c: Collection) -> None:
    """Serialize writers of one collection across replicas; ``NotFound`` if it was dropped (or recreated)."""
    row = conn.execute(
        "SELECT created_at FROM store_collections WHERE tenant = %s AND name = %s FOR UPDATE", (c.tenant, c.name)
    ).fetchone()
    if row is None or row[0] != c.created_at:
        raise NotFound("collection not found", param="collection")


def insert_chunks(conn: Conn, c: Collection, sealed: Sequence[SealedChunk]) -> list[int]:
    """Insert sealed chunks and their 'add' changes; returns their chunk ids (FAISS ids) in order."""
    ids: list[int] = []
    for s in sealed:
        row = conn.execute(_INSERT_CHUNK, chunk_values(c, s)).fetchone()
        ids.append(int(row[0]) if row else 0)
    record_changes(conn, c, "add", ids)
    count_chunks(conn, c, len(ids))
    return ids


def record_commit(conn: Conn, sealed: Sequence[SealedChunk]) -> None:
    """The ingest entry this write belongs to is committed with it (fails if it was declared unfinished)."""
    for index in sorted({s.audit_index for s in sealed if s.audit_index is not None}):
        conn.execute("INSERT INTO store_commits (audit_index, state) VALUES (%s, 'committed')", (index,))


def mark_unfinished(conn: Conn, indexes: Sequence[int]) -> list[int]:
    marked = []
    for index in indexes:
        row = conn.execute("INSERT INTO store_commits (audit_index, state) VALUES (%s, 'unfinished') "
                           "ON CONFLICT (audit_index) DO NOTHING RETURNING audit_index", (index,)).fetchone()
        if row is not None:
            marked.append(index)
    return marked


def record_changes(conn: Conn, c: Collection, op: str, ids: Sequence[int]) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO store_changes (tenant, collection, op, chunk_id) VALUES (%s, %s, %s, %s)",
            [(c.tenant, c.name, op, chunk_id) for chunk_id in ids],
        )


def count_chunks(conn: Conn, c: Collection, delta: int) -> None:
    conn.execute(
        "UPDATE store_collections SET chunk_count = chunk_count + %s WHERE tenant = %s AND name = %s",
        (delta, c.tenant, c.name),
    )


def delete_documents(conn: Conn, c: Collection, documents: set[str]) -> list[int]:
    """Delete the documents' chunks, recording a 'remove' change each; returns their chunk ids."""
    rows = conn.execute(
        "DELETE FROM store_chunks WHERE tenant = %s AND collection = %s AND document_id = ANY(%s) RETURNING id",
        (c.tenant, c.name, sorted(documents)),
    ).fetchall()
    removed = sorted(int(r[0]) for r in rows)
    record_changes(conn, c, "remove", removed)
    count_chunks(conn, c, -len(removed))
    return removed


def delete_older(conn: Conn, c: Collection, cutoff: str) -> list[int]:
    """Delete the chunks stored before ``cutoff``, recording a 'remove' change each; returns their chunk ids."""
    rows = conn.execute(
        "DELETE FROM store_chunks WHERE tenant = %s AND collection = %s AND created_at < %s RETURNING id",
        (c.tenant, c.name, cutoff),
    ).fetchall()
    removed = sorted(int(r[0]) for r in rows)
    record_changes(conn, c, "remove", removed)
    count_chunks(conn, c, -len(removed))
    return removed


def delete_collection(conn: Conn, tenant: str, name: str) -> int | None:
    """Delete a collection, its chunks and snapshot, recording a 'drop' change; None if there was none."""
    row = conn.execute(
        "DELETE FROM store_collections WHERE tenant = %s AND name = %s RETURNING chunk_count", (tenant, name)
    ).fetchone()
    if row is None:
        return None
    conn.execute(
        "INSERT INTO store_changes (tenant, collection, op) VALUES (%s, %s, 'drop')", (tenant, name)
    )
    return int(row[0])


class PgVectorSource(DecryptingSource):
    """Decrypted vectors and the change sequence, for ``IndexManager``; unreadable vectors are reported."""

    def __init__(
        self, db: PgDatabase, codec: ChunkCodec, report: Callable[[IntegrityFailure], None],
        retention_s: float,  # IndexSettings.change_retention_s
    ) -> None:
        super().__init__(codec, report)
        self._db = db
        self._retention_s = retention_s

    def current_vectors(self, c: Collection) -> tuple[int, np.ndarray, np.ndarray]:
        with self._db.transaction() as conn:
            # The collection's row is share-locked against its writers (they take it FOR UPDATE) until commit,
            # so the seq read matches the rows read.
            conn.execute(
                "SELECT 1 FROM store_collections WHERE tenant = %s AND name = %s FOR SHARE", (c.tenant, c.name)
            )
            row = conn.execute(
                "SELECT coalesce(max(seq), 0) FROM store_changes WHERE tenant = %s AND collection = %s",
                (c.tenant, c.name),
            ).fetchone()
            rows = conn.execute(
                "SELECT id, record_id, vector FROM store_chunks WHERE tenant = %s AND collection = %s ORDER BY id",
                (c.tenant, c.name),
            ).fetchall()
        ids, vectors = self._open(c, rows)
        return (int(row[0]) if row else 0), ids, vectors

    def changes_after(self, c: Collection, seq: int) -> list[Change]:
        with self._db.transaction() as conn:
            rows = conn.execute(
                "SELECT seq, op, chunk_id FROM store_changes WHERE tenant = %s AND collection = %s AND seq > %s "
                "ORDER BY seq",
                (c.tenant, c.name, seq),
            ).fetchall()
            # Read after the rows: a prune that deleted some of them committed its mark with the deletion, so this
            # later statement sees the mark (a prune after the rows were read costs at most a needless reload).
            mark = conn.execute(
                "SELECT changes_pruned_through FROM store_collections WHERE tenant = %s AND name = %s",
                (c.tenant, c.name),
            ).fetchone()
        if mark is not None and seq < int(mark[0]):
            raise ChangesPruned(f"changes of {c.tenant}/{c.name} after {seq} were pruned up to {mark[0]}")
        return [Change(int(s), str(op), None if chunk is None else int(chunk)) for s, op, chunk in rows]

    def prune(self, c: Collection, seq: int) -> None:
        """A snapshot covers ``seq``: delete the older changes past the retention and mark how far that went."""
        with self._db.transaction() as conn:
            conn.execute(
                "WITH gone AS (DELETE FROM store_changes WHERE tenant = %s AND collection = %s AND seq < %s "
                "AND changed_at < now() - make_interval(secs => %s) RETURNING seq) "
                "UPDATE store_collections SET changes_pruned_through = "
                "greatest(changes_pruned_through, (SELECT coalesce(max(seq), 0) FROM gone)) "
                "WHERE tenant = %s AND name = %s AND created_at = %s",
                (c.tenant, c.name, seq, self._retention_s, c.tenant, c.name, c.created_at),
            )

    def vectors(self, c: Collection, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        with self._db.transaction() as conn:
            rows = conn.execute(
                "SELECT id, record_id, vector FROM store_chunks WHERE id = ANY(%s) AND tenant = %s "
                "AND collection = %s ORDER BY id",
                (list(ids), c.tenant, c.name),
            ).fetchall()
        return self._open(c, rows)


class PgSnapshots(SnapshotFiles):
    """``SnapshotFiles``' interface over the shared ``store_snapshots`` table: no local file at all."""

    def __init__(self, db: PgDatabase, envelope: Envelope) -> None:
        self._db = db
        self._envelope = envelope
        self.directory = Path("/nonexistent")  # never used: kept for the parent's attribute

    def write(self, c: Collection, payload: bytes, seq: int) -> None:
        """Replace the shared snapshot only with a newer one: a lagging replica's snapshot (an older ``seq``) would
        send every replica that loads it into a rebuild from the records (its changes may be pruned)."""
        sealed = self._envelope.encrypt_snapshot(_context(c), payload)
        with self._db.transaction() as conn:  # only while this very collection (same created_at) exists
            conn.execute(
                "INSERT INTO store_snapshots (tenant, collection, payload, seq) SELECT %s, %s, %s, %s WHERE EXISTS "
                "(SELECT 1 FROM store_collections WHERE tenant = %s AND name = %s AND created_at = %s) "
                "ON CONFLICT (tenant, collection) DO UPDATE SET payload = excluded.payload, seq = excluded.seq "
                "WHERE store_snapshots.seq <= excluded.seq",
                (c.tenant, c.name, sealed, seq, c.tenant, c.name, c.created_at),
            )

    def read(self, c: Collection) -> bytes | None:
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT payload FROM store_snapshots WHERE tenant = %s AND collection = %s", (c.tenant, c.name)
            ).fetchone()
        return None if row is None else self._envelope.decrypt_snapshot(_context(c), bytes(row[0]))

    def delete(self, tenant: str, collection: str) -> None:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM store_snapshots WHERE tenant = %s AND collection = %s", (tenant, collection))


def _context(c: Collection) -> RecordContext:
    return RecordContext.index(c.tenant, c.name, c.model_version)
