"""Usage per (tenant, key id, model, day) in the embedded database (``UsageRepository``), beside the API keys in
the data dir's ``gateway.db``; ``backends.postgres.usage`` keeps the same table."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.limits.usage import Usage, merged

SCHEMA = """
CREATE TABLE IF NOT EXISTS usage_daily (
    tenant TEXT NOT NULL,
    day TEXT NOT NULL,
    key_id TEXT NOT NULL,
    model TEXT NOT NULL,
    tokens INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    PRIMARY KEY (tenant, day, key_id, model)
) WITHOUT ROWID;
"""


class SQLiteUsageRepository:
    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        db.connect().executescript(SCHEMA)

    def add(self, usage: Sequence[Usage]) -> None:
        rows = merged(usage)
        if not rows:
            return
        conn = self._db.connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                "INSERT INTO usage_daily (tenant, key_id, model, day, tokens, requests) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (tenant, day, key_id, model) DO UPDATE SET tokens = tokens + excluded.tokens,"
                " requests = requests + excluded.requests",
                [(u.tenant, u.key_id, u.model, u.day, u.tokens, u.requests) for u in rows],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def read(self, tenant: str, since: str, until: str) -> list[Usage]:
        rows = self._db.connect().execute(
            "SELECT tenant, key_id, model, day, tokens, requests FROM usage_daily"
            " WHERE tenant = ? AND day >= ? AND day <= ? ORDER BY day, key_id, model", (tenant, since, until),
        ).fetchall()
        return [Usage(*row) for row in rows]
