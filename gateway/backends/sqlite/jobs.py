"""``JobStore`` in the embedded SQLite database (``gateway.db``): the job table, its items, and the lease.

One process serves the embedded default, but the lease is kept all the same: a runner that died with a job (kill -9)
leaves a lease that runs out, and the next runner (after the restart) takes the job over from its last stored item.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.jobs.base import ACTIVE_STATES, FINAL_STATES, Job, StoredItem, dumps
from gateway.jobs.fairness import Waiting

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    owner TEXT NOT NULL,
    params TEXT NOT NULL,
    total INTEGER NOT NULL,
    succeeded INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    expires_at REAL NOT NULL,
    lease_owner TEXT,
    lease_until REAL,
    result TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS jobs_by_tenant ON jobs (tenant, kind, created_at);
CREATE INDEX IF NOT EXISTS jobs_active ON jobs (state, created_at);
CREATE TABLE IF NOT EXISTS job_items (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    ok INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (job_id, idx)
);
"""
_COLUMNS = Job.COLUMNS
_ACTIVE = "(" + ", ".join(f"'{s}'" for s in ACTIVE_STATES) + ")"
_FINAL = "(" + ", ".join(f"'{s}'" for s in FINAL_STATES) + ")"
# A claim counts an attempt, but for a parked job (no lease owner, claimed before): it stopped between two slices,
# with every item it ran stored, so taking it on is no resumption.
_TAKE = ("attempts = attempts + CASE WHEN lease_owner IS NULL AND attempts > 0 THEN 0 ELSE 1 END, "
         "lease_owner = ?, lease_until = ?, started_at = COALESCE(started_at, ?)")



class SQLiteJobStore:
    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        db().executescript(SCHEMA)

    def create(self, job: Job) -> None:
        self._db().execute(
            f"INSERT INTO jobs ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
            (job.id, job.tenant, job.kind, job.state, dumps(job.owner), dumps(job.params), job.total, job.created_at,
             job.expires_at, job.succeeded, job.failed, job.attempts, int(job.cancel_requested), job.started_at,
             job.finished_at, dumps(job.result)),
        )

    def _get(self, conn: sqlite3.Connection, job_id: str) -> Job | None:
        row = conn.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()  # noqa: S608
        return None if row is None else Job.from_columns(row)

    def get(self, tenant: str, job_id: str) -> Job | None:
        job = self._get(self._db(), job_id)
        return job if job is not None and job.tenant == tenant else None

    def list_jobs(self, tenant: str, kind: str, limit: int, after: str | None = None) -> list[Job]:
        conn = self._db()
        start = None if after is None else self.get(tenant, after)
        if after is not None and start is None:
            return []
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM jobs WHERE tenant = ? AND kind = ? "  # noqa: S608
            "AND (? IS NULL OR created_at < ? OR (created_at = ? AND id < ?)) "
            "ORDER BY created_at DESC, id DESC LIMIT ?",
            (tenant, kind, None if start is None else start.created_at, None if start is None else start.created_at,
             None if start is None else start.created_at, None if start is None else start.id, limit),
        ).fetchall()
        return [Job.from_columns(r) for r in rows]

    def claim(self, runner: str, now: float, lease_s: float, kinds: Sequence[str], job_id: str | None = None
              ) -> Job | None:
        if not kinds:
            return None
        conn = self._db()
        marks = ", ".join("?" for _ in kinds)
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute(
                f"SELECT id FROM jobs WHERE state IN {_ACTIVE} AND kind IN ({marks}) "  # noqa: S608
                "AND (lease_until IS NULL OR lease_until < ?) AND (? IS NULL OR id = ?) "
                "ORDER BY created_at, id LIMIT 1", (*kinds, now, job_id, job_id),
            ).fetchone()
            if row is None:
                conn.execute("COMMIT")
                return None
            conn.execute(f"UPDATE jobs SET {_TAKE} WHERE id = ?", (runner, now + lease_s, now, row[0]))  # noqa: S608
            job = self._get(conn, row[0])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return job

    def waiting(self, now: float, kinds: Sequence[str]) -> list[Waiting]:
        if not kinds:
            return []
        marks = ", ".join("?" for _ in kinds)
        rows = self._db().execute(
            f"SELECT id, tenant, created_at, attempts FROM jobs WHERE state IN {_ACTIVE} "  # noqa: S608
            f"AND kind IN ({marks}) AND (lease_until IS NULL OR lease_until < ?) ORDER BY created_at, id",
            (*kinds, now),
        ).fetchall()
        return [Waiting(r[0], r[1], float(r[2]), int(r[3])) for r in rows]

    def park(self, job_id: str, runner: str) -> bool:
        cur = self._db().execute(
            f"UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ? "  # noqa: S608
            f"AND state NOT IN {_FINAL}", (job_id, runner),
        )
        return cur.rowcount == 1

    def record(self, job_id: str, runner: str, now: float, lease_s: float, items: Sequence[StoredItem]) -> Job | None:
        conn = self._db()
        conn.execute("BEGIN IMMEDIATE")
        try:
            held = conn.execute("SELECT 1 FROM jobs WHERE id = ? AND lease_owner = ?", (job_id, runner)).fetchone()
            if held is None:
                conn.execute("ROLLBACK")
                return None
            conn.executemany("INSERT OR IGNORE INTO job_items (job_id, idx, ok, sealed) VALUES (?, ?, ?, ?)",
                             [(job_id, i.index, int(i.ok), i.sealed) for i in items])
            conn.execute(
                "UPDATE jobs SET lease_until = ?, "
                "succeeded = (SELECT count(*) FROM job_items WHERE job_id = ? AND ok = 1), "
                "failed = (SELECT count(*) FROM job_items WHERE job_id = ? AND ok = 0) WHERE id = ?",
                (now + lease_s, job_id, job_id, job_id),
            )
            job = self._get(conn, job_id)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return job

    def items(self, job_id: str) -> list[StoredItem]:
        rows = self._db().execute("SELECT idx, ok, sealed FROM job_items WHERE job_id = ? ORDER BY idx", (job_id,))
        return [StoredItem(int(r[0]), bool(r[1]), bytes(r[2])) for r in rows]

    def move(self, job_id: str, runner: str | None, state: str, now: float,
             result: dict[str, Any] | None = None) -> bool:
        final = state in FINAL_STATES
        holder = "lease_owner = ?" if runner is not None else "state = 'queued'"
        params: tuple[Any, ...] = (runner,) if runner is not None else ()
        cur = self._db().execute(
            "UPDATE jobs SET state = ?, result = COALESCE(?, result), "  # noqa: S608
            "finished_at = CASE WHEN ? THEN ? ELSE finished_at END, "
            "lease_owner = CASE WHEN ? THEN NULL ELSE lease_owner END, "
            "lease_until = CASE WHEN ? THEN NULL ELSE lease_until END "
            f"WHERE id = ? AND state NOT IN {_FINAL} AND {holder}",
            (state, None if result is None else dumps(result), final, now, final, final, job_id, *params),
        )
        return cur.rowcount == 1

    def cancel(self, tenant: str, job_id: str) -> Job | None:
        conn = self._db()
        conn.execute(
            "UPDATE jobs SET cancel_requested = 1, state = 'cancelling' WHERE id = ? AND tenant = ? "
            "AND state IN ('queued', 'running', 'cancelling')", (job_id, tenant),
        )
        return self.get(tenant, job_id)

    def purge(self, now: float) -> list[Job]:
        return self._delete("expires_at < ?", now)

    def purge_tenant(self, tenant: str) -> list[Job]:
        return self._delete("tenant = ?", tenant)

    def _delete(self, where: str, value: object) -> list[Job]:
        """Delete the jobs matching ``where`` (one of ours, never a caller's text); the jobs deleted."""
        conn = self._db()
        rows = conn.execute(f"SELECT {_COLUMNS} FROM jobs WHERE {where}", (value,)).fetchall()  # noqa: S608
        conn.executemany("DELETE FROM jobs WHERE id = ?", [(r[0],) for r in rows])
        return [Job.from_columns(r) for r in rows]
