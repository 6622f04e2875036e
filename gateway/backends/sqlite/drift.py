"""Drift baselines (sealed) and window measures in the local SQLite file (``DriftRepository``).

Per host on either backend: a PostgreSQL deployment keeps them in each replica's local ``gateway.db`` too (see
``docs/postgres.md``), so this module has no PostgreSQL sibling.
"""

from __future__ import annotations

from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.backends.sqlite.store_rows import secure_delete
from gateway.crypto.envelope import Envelope, RecordContext
from gateway.drift.measure import Baseline
from gateway.drift.repository import BASELINE_RECORD, BaselineInfo, WindowRow

SCHEMA = """
CREATE TABLE IF NOT EXISTS drift_baselines (
    tenant TEXT NOT NULL,
    collection TEXT NOT NULL,
    model_version TEXT NOT NULL,
    created_at TEXT NOT NULL,
    count INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (tenant, collection)
);
CREATE TABLE IF NOT EXISTS drift_windows (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    collection TEXT NOT NULL,
    closed_at TEXT NOT NULL,
    count INTEGER NOT NULL,
    centroid_shift REAL NOT NULL,
    mean_distance REAL NOT NULL,
    outlier_share REAL NOT NULL,
    alerts TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS drift_windows_by_collection ON drift_windows (tenant, collection, seq);
"""


class SQLiteDriftRepository:
    def __init__(self, db: SQLiteDatabase, envelope: Envelope) -> None:
        self._db = db
        db().executescript(SCHEMA)
        self._envelope = envelope

    def load_baseline(self, tenant: str, collection: str, model_version: str, dimension: int
                      ) -> BaselineInfo | None:
        row = self._db().execute(
            "SELECT model_version, created_at, sealed FROM drift_baselines WHERE tenant = ? AND collection = ?",
            (tenant, collection),
        ).fetchone()
        if row is None or row[0] != model_version:  # a baseline of another embedding space is meaningless
            return None
        raw = self._envelope.decrypt(RecordContext(tenant, collection, BASELINE_RECORD, model_version), bytes(row[2]))
        return BaselineInfo(Baseline.from_bytes(raw, dimension), row[0], row[1])

    def save_baseline(self, tenant: str, collection: str, model_version: str, baseline: Baseline,
                      created_at: str) -> None:
        sealed = self._envelope.encrypt(RecordContext(tenant, collection, BASELINE_RECORD, model_version),
                                        baseline.to_bytes())
        self._db().execute(
            "INSERT OR REPLACE INTO drift_baselines VALUES (?, ?, ?, ?, ?, ?)",
            (tenant, collection, model_version, created_at, baseline.count, sealed),
        )

    def add_window(self, tenant: str, collection: str, row: WindowRow) -> None:
        self._db().execute(
            "INSERT INTO drift_windows (tenant, collection, closed_at, count, centroid_shift, mean_distance, "
            "outlier_share, alerts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (tenant, collection, row.closed_at, row.count, row.centroid_shift, row.mean_distance,
             row.outlier_share, ",".join(row.alerts)),
        )  # fmt: skip

    def windows(self, tenant: str, collection: str, limit: int) -> list[WindowRow]:
        rows = self._db().execute(
            "SELECT closed_at, count, centroid_shift, mean_distance, outlier_share, alerts FROM drift_windows "
            "WHERE tenant = ? AND collection = ? ORDER BY seq DESC LIMIT ?",
            (tenant, collection, limit),
        ).fetchall()
        return [WindowRow(r[0], int(r[1]), float(r[2]), float(r[3]), float(r[4]),
                          tuple(a for a in r[5].split(",") if a)) for r in reversed(rows)]  # fmt: skip

    def forget(self, tenant: str, collection: str) -> None:
        # Zeroed, not left in free pages: the rows name the collection, and a shred must leave no name behind.
        with secure_delete(self._db()) as conn:
            conn.execute("DELETE FROM drift_baselines WHERE tenant = ? AND collection = ?", (tenant, collection))
            conn.execute("DELETE FROM drift_windows WHERE tenant = ? AND collection = ?", (tenant, collection))

    def purge_before(self, tenant: str, collection: str, cutoff: str, *, baseline: bool) -> int:
        conn = self._db()
        with conn:
            windows = conn.execute("DELETE FROM drift_windows WHERE tenant = ? AND collection = ? AND closed_at < ?",
                                   (tenant, collection, cutoff)).rowcount
            base = conn.execute("DELETE FROM drift_baselines WHERE tenant = ? AND collection = ? "
                                "AND (? OR created_at < ?)", (tenant, collection, baseline, cutoff)).rowcount
        return int(windows) + int(base)
