"""``JobStore`` in PostgreSQL: any replica may claim a job, never two at once.

A claim takes the oldest active job whose lease has run out with ``FOR UPDATE SKIP LOCKED``, so replicas claiming
together each get a different job (or none); every later write checks ``lease_owner`` in the same transaction, so a
replica that lost its lease (paused past it, then woken) cannot record anything more for the job.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.rows import TupleRow

from gateway.backends.postgres.connection import PgDatabase
from gateway.jobs.base import ACTIVE_STATES, FINAL_STATES, Job, StoredItem, dumps
from gateway.jobs.fairness import Waiting

_COLUMNS = Job.COLUMNS
# A claim counts an attempt, but for a parked job (no lease owner, claimed before): it stopped between two slices,
# with every item it ran stored, so taking it on is no resumption.
_TAKE = ("attempts = attempts + CASE WHEN lease_owner IS NULL AND attempts > 0 THEN 0 ELSE 1 END, "
         "lease_owner = %s, lease_until = %s, started_at = COALESCE(started_at, %s)")



def _get(conn: psycopg.Connection[TupleRow], job_id: str) -> Job | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = %s", (job_id,)).fetchone()  # noqa: S608
    return None if row is None else Job.from_columns(row)


class PgJobStore:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    def create(self, job: Job) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                f"INSERT INTO jobs ({_COLUMNS}) VALUES "  # noqa: S608
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (job.id, job.tenant, job.kind, job.state, dumps(job.owner), dumps(job.params), job.total,
                 job.created_at, job.expires_at, job.succeeded, job.failed, job.attempts, job.cancel_requested,
                 job.started_at, job.finished_at, dumps(job.result)),
            )

    def get(self, tenant: str, job_id: str) -> Job | None:
        with self._db.transaction() as conn:
            job = _get(conn, job_id)
        return job if job is not None and job.tenant == tenant else None

    def list_jobs(self, tenant: str, kind: str, limit: int, after: str | None = None) -> list[Job]:
        start = None if after is None else self.get(tenant, after)
        if after is not None and start is None:
            return []
        with self._db.transaction() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM jobs WHERE tenant = %s AND kind = %s "  # noqa: S608
                "AND (%s::double precision IS NULL OR (created_at, id) < (%s, %s)) "
                "ORDER BY created_at DESC, id DESC LIMIT %s",
                (tenant, kind, None if start is None else start.created_at,
                 None if start is None else start.created_at, None if start is None else start.id, limit),
            ).fetchall()
        return [Job.from_columns(r) for r in rows]

    def claim(self, runner: str, now: float, lease_s: float, kinds: Sequence[str], job_id: str | None = None
              ) -> Job | None:
        if not kinds:
            return None
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT id FROM jobs WHERE state = ANY(%s) AND kind = ANY(%s) "
                "AND (lease_until IS NULL OR lease_until < %s) AND (%s::text IS NULL OR id = %s) "
                "ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED",
                (list(ACTIVE_STATES), list(kinds), now, job_id, job_id),
            ).fetchone()
            if row is None:
                return None
            conn.execute(f"UPDATE jobs SET {_TAKE} WHERE id = %s", (runner, now + lease_s, now, row[0]))  # noqa: S608
            return _get(conn, row[0])

    def waiting(self, now: float, kinds: Sequence[str]) -> list[Waiting]:
        if not kinds:
            return []
        with self._db.transaction() as conn:
            rows = conn.execute(
                "SELECT id, tenant, created_at, attempts FROM jobs WHERE state = ANY(%s) AND kind = ANY(%s) "
                "AND (lease_until IS NULL OR lease_until < %s) ORDER BY created_at, id",
                (list(ACTIVE_STATES), list(kinds), now),
            ).fetchall()
        return [Waiting(r[0], r[1], float(r[2]), int(r[3])) for r in rows]

    def park(self, job_id: str, runner: str) -> bool:
        with self._db.transaction() as conn:
            cur = conn.execute(
                "UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE id = %s AND lease_owner = %s "
                "AND NOT (state = ANY(%s))", (job_id, runner, list(FINAL_STATES)),
            )
            return cur.rowcount == 1

    def record(self, job_id: str, runner: str, now: float, lease_s: float, items: Sequence[StoredItem]) -> Job | None:
        with self._db.transaction() as conn:
            held = conn.execute("SELECT 1 FROM jobs WHERE id = %s AND lease_owner = %s FOR UPDATE",
                                (job_id, runner)).fetchone()
            if held is None:
                return None
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO job_items (job_id, idx, ok, sealed) VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    [(job_id, i.index, i.ok, i.sealed) for i in items],
                )
            conn.execute(
                "UPDATE jobs SET lease_until = %s, "
                "succeeded = (SELECT count(*) FROM job_items WHERE job_id = %s AND ok), "
                "failed = (SELECT count(*) FROM job_items WHERE job_id = %s AND NOT ok) WHERE id = %s",
                (now + lease_s, job_id, job_id, job_id),
            )
            return _get(conn, job_id)

    def items(self, job_id: str) -> list[StoredItem]:
        with self._db.transaction() as conn:
            rows = conn.execute("SELECT idx, ok, sealed FROM job_items WHERE job_id = %s ORDER BY idx",
                                (job_id,)).fetchall()
        return [StoredItem(int(r[0]), bool(r[1]), bytes(r[2])) for r in rows]

    def move(self, job_id: str, runner: str | None, state: str, now: float,
             result: dict[str, Any] | None = None) -> bool:
        final = state in FINAL_STATES
        with self._db.transaction() as conn:
            cur = conn.execute(
                "UPDATE jobs SET state = %s, result = COALESCE(%s, result), "
                "finished_at = CASE WHEN %s THEN %s ELSE finished_at END, "
                "lease_owner = CASE WHEN %s THEN NULL ELSE lease_owner END, "
                "lease_until = CASE WHEN %s THEN NULL ELSE lease_until END "
                "WHERE id = %s AND NOT (state = ANY(%s)) "
                "AND ((%s::text IS NULL AND state = 'queued') OR lease_owner = %s)",
                (state, None if result is None else dumps(result), final, now, final, final, job_id,
                 list(FINAL_STATES), runner, runner),
            )
            return cur.rowcount == 1

    def cancel(self, tenant: str, job_id: str) -> Job | None:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE jobs SET cancel_requested = TRUE, state = 'cancelling' WHERE id = %s AND tenant = %s "
                "AND state = ANY(%s)", (job_id, tenant, ["queued", "running", "cancelling"]),
            )
        return self.get(tenant, job_id)

    def purge(self, now: float) -> list[Job]:
        return self._delete("expires_at < %s", now)

    def purge_tenant(self, tenant: str) -> list[Job]:
        return self._delete("tenant = %s", tenant)

    def _delete(self, where: str, value: object) -> list[Job]:
        """Delete the jobs matching ``where`` (one of ours, never a caller's text); the jobs deleted."""
        with self._db.transaction() as conn:
            rows = conn.execute(f"DELETE FROM jobs WHERE {where} RETURNING {_COLUMNS}",  # noqa: S608
                                (value,)).fetchall()
        return [Job.from_columns(r) for r in rows]
