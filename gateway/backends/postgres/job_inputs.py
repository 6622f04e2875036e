"""``JobInputs`` in PostgreSQL (table ``job_inputs``, migration 8): a job's staged input, sealed by the caller.

Shared by every replica, so whichever replica claims the job (``backends.postgres.jobs``) reads its input; the row
holds ciphertext only (``gateway.pipeline.ingest_jobs`` seals it under the tenant's data key).
"""

from __future__ import annotations

from gateway.backends.postgres.connection import PgDatabase


class PgJobInputs:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    def put(self, job_id: str, tenant: str, sealed: bytes) -> None:
        with self._db.transaction() as conn:
            conn.execute("INSERT INTO job_inputs (job_id, tenant, sealed) VALUES (%s, %s, %s)",
                         (job_id, tenant, sealed))

    def get(self, tenant: str, job_id: str) -> bytes | None:
        with self._db.transaction() as conn:
            row = conn.execute("SELECT sealed FROM job_inputs WHERE job_id = %s AND tenant = %s",
                               (job_id, tenant)).fetchone()
        return None if row is None else bytes(row[0])

    def delete(self, tenant: str, job_id: str) -> None:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM job_inputs WHERE job_id = %s AND tenant = %s", (job_id, tenant))
