"""``JobInputs`` in the embedded SQLite database (``gateway.db``): a job's staged input, sealed by the caller.

The input of an ingest job (its documents) waits here, encrypted under the tenant's data key, until the job ends;
the row holds ciphertext only (``gateway.pipeline.ingest_jobs`` seals it), so no text lies in clear on disk.
"""

from __future__ import annotations

from gateway.backends.sqlite.connection import SQLiteDatabase

SCHEMA = """
CREATE TABLE IF NOT EXISTS job_inputs (
    job_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    sealed BLOB NOT NULL
);
"""


class SQLiteJobInputs:
    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        db().executescript(SCHEMA)

    def put(self, job_id: str, tenant: str, sealed: bytes) -> None:
        self._db().execute("INSERT INTO job_inputs (job_id, tenant, sealed) VALUES (?, ?, ?)",
                           (job_id, tenant, sealed))

    def get(self, tenant: str, job_id: str) -> bytes | None:
        row = self._db().execute("SELECT sealed FROM job_inputs WHERE job_id = ? AND tenant = ?",
                                 (job_id, tenant)).fetchone()
        return None if row is None else bytes(row[0])

    def delete(self, tenant: str, job_id: str) -> None:
        self._db().execute("DELETE FROM job_inputs WHERE job_id = ? AND tenant = ?", (job_id, tenant))
