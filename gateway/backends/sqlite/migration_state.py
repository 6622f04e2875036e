"""Persistent progress of collection migrations in the embedded SQLite database (``MigrationState``).

The migration runs on the embedded backend only (``gateway.cli.migrate`` refuses PostgreSQL), so this module has
no PostgreSQL sibling.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np

from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.crypto.envelope import Envelope, RecordContext
from gateway.migration.state import Migration
from gateway.store.base import Collection, NewChunk

SCHEMA = """
CREATE TABLE IF NOT EXISTS migrations (
    tenant TEXT NOT NULL,
    collection TEXT NOT NULL,
    target TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('embedding', 'switching')),
    source_version TEXT NOT NULL,
    index_type TEXT NOT NULL,
    retain_text INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    PRIMARY KEY (tenant, collection)
);
CREATE TABLE IF NOT EXISTS migration_chunks (
    tenant TEXT NOT NULL,
    collection TEXT NOT NULL,
    source_record TEXT NOT NULL,
    document_id TEXT NOT NULL,
    chunk_index INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (tenant, collection, source_record)
);
"""


class SQLiteMigrationState:
    """``MigrationState`` in the embedded SQLite database, next to the collection it migrates."""

    def __init__(self, db: SQLiteDatabase, envelope: Envelope) -> None:
        self._db = db
        self._envelope = envelope
        db().executescript(SCHEMA)

    def current(self, tenant: str, collection: str) -> Migration | None:
        row = self._db().execute(
            "SELECT target, state, source_version, index_type, retain_text FROM migrations "
            "WHERE tenant = ? AND collection = ?",
            (tenant, collection),
        ).fetchone()
        return None if row is None else Migration(tenant, collection, row[0], row[1], row[2], row[3], bool(row[4]))

    def begin(self, c: Collection, target: str, now: str) -> Migration:
        """Start (or keep) the migration; a different target discards the progress of the earlier one."""
        found = self.current(c.tenant, c.name)
        if found is not None and found.target == target:
            return found
        conn = self._db()
        conn.execute("DELETE FROM migration_chunks WHERE tenant = ? AND collection = ?", (c.tenant, c.name))
        conn.execute("INSERT OR REPLACE INTO migrations VALUES (?, ?, ?, 'embedding', ?, ?, ?, ?)",
                     (c.tenant, c.name, target, c.model_version, c.index_type, int(c.retain_text), now))
        return Migration(c.tenant, c.name, target, "embedding", c.model_version, c.index_type, c.retain_text)

    def set_state(self, m: Migration, state: str) -> None:
        self._db().execute("UPDATE migrations SET state = ? WHERE tenant = ? AND collection = ?",
                           (state, m.tenant, m.collection))

    def done_records(self, m: Migration) -> set[str]:
        rows = self._db().execute(
            "SELECT source_record FROM migration_chunks WHERE tenant = ? AND collection = ?", (m.tenant, m.collection)
        )
        return {r[0] for r in rows}

    def save(self, m: Migration, source_record: str, chunk: NewChunk) -> None:
        payload = {
            "vector": base64.b64encode(np.asarray(chunk.vector, dtype="<f4").tobytes()).decode("ascii"),
            "text": chunk.text, "metadata": dict(chunk.metadata), "span": list(chunk.span),
            "provenance": dict(chunk.provenance),
        }
        sealed = self._envelope.encrypt(self._context(m, source_record), json.dumps(payload).encode("utf-8"))
        self._db().execute("INSERT OR REPLACE INTO migration_chunks VALUES (?, ?, ?, ?, ?, ?)",
                           (m.tenant, m.collection, source_record, chunk.document_id, chunk.chunk_index, sealed))

    def chunks(self, m: Migration) -> list[tuple[str, NewChunk]]:
        """(source record, re-embedded chunk) by document and chunk index."""
        rows = self._db().execute(
            "SELECT source_record, document_id, chunk_index, sealed FROM migration_chunks "
            "WHERE tenant = ? AND collection = ? ORDER BY document_id, chunk_index", (m.tenant, m.collection),
        ).fetchall()
        out = []
        for record, document_id, index, sealed in rows:
            p: dict[str, Any] = json.loads(self._envelope.decrypt(self._context(m, record), bytes(sealed)))
            vector = np.frombuffer(base64.b64decode(p["vector"]), dtype="<f4").astype(np.float32)
            out.append((record, NewChunk(document_id, int(index), (int(p["span"][0]), int(p["span"][1])), vector,
                                         p["text"], p["metadata"], p["provenance"])))
        return out

    def finish(self, m: Migration) -> None:
        conn = self._db()
        conn.execute("DELETE FROM migration_chunks WHERE tenant = ? AND collection = ?", (m.tenant, m.collection))
        conn.execute("DELETE FROM migrations WHERE tenant = ? AND collection = ?", (m.tenant, m.collection))

    @staticmethod
    def _context(m: Migration, record: str) -> RecordContext:
        return RecordContext(m.tenant, m.collection, f"migration/{record}", m.target.partition("@")[2])
