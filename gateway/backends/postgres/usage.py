"""Usage per (tenant, key id, model, day) in PostgreSQL (``UsageRepository``), shared by every replica: each
replica's batches add to the same rows (migration 7 makes the table; ``backends.sqlite.usage`` is its sibling)."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.backends.postgres.connection import PgDatabase
from gateway.limits.usage import Usage, merged


class PgUsageRepository:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    def add(self, usage: Sequence[Usage]) -> None:
        rows = merged(usage)  # sorted: two replicas' batches lock shared rows in the same order
        if not rows:
            return
        with self._db.transaction() as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO usage_daily (tenant, key_id, model, day, tokens, requests) VALUES (%s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (tenant, day, key_id, model) DO UPDATE SET tokens = usage_daily.tokens + EXCLUDED.tokens,"
                " requests = usage_daily.requests + EXCLUDED.requests",
                [(u.tenant, u.key_id, u.model, u.day, u.tokens, u.requests) for u in rows],
            )

    def read(self, tenant: str, since: str, until: str) -> list[Usage]:
        with self._db.transaction() as conn:
            rows = conn.execute(
                "SELECT tenant, key_id, model, day, tokens, requests FROM usage_daily"
                " WHERE tenant = %s AND day >= %s AND day <= %s ORDER BY day, key_id, model", (tenant, since, until),
            ).fetchall()
        return [Usage(str(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[4]), int(r[5])) for r in rows]
