"""Where drift state lives: baselines (encrypted) and the series of window measures (numbers only).

A baseline's centroids are averages of a tenant's embeddings, and averages of embeddings can be inverted
towards text, so they are sealed with the tenant's data key like any stored vector (record id
``__drift_baseline__``). The window series holds nothing but counts and three distances per window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.backends.sqlite.store_rows import secure_delete
from gateway.crypto.envelope import Envelope, RecordContext
from gateway.drift.measure import Baseline

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
BASELINE_RECORD = "__drift_baseline__"


@dataclass(frozen=True)
class WindowRow:
    closed_at: str
    count: int
    centroid_shift: float
    mean_distance: float
    outlier_share: float
    alerts: tuple[str, ...]


@dataclass(frozen=True)
class BaselineInfo:
    baseline: Baseline
    model_version: str
    created_at: str


class DriftRepository(Protocol):
    def load_baseline(self, tenant: str, collection: str, model_version: str, dimension: int
                      ) -> BaselineInfo | None: ...

    def save_baseline(self, tenant: str, collection: str, model_version: str, baseline: Baseline,
                      created_at: str) -> None: ...

    def add_window(self, tenant: str, collection: str, row: WindowRow) -> None: ...

    def windows(self, tenant: str, collection: str, limit: int) -> list[WindowRow]: ...

    def forget(self, tenant: str, collection: str) -> None: ...

    def purge_before(self, tenant: str, collection: str, cutoff: str, *, baseline: bool) -> int:
        """Delete the windows closed before ``cutoff`` (ISO 8601, UTC) and, where ``baseline`` or it was made
        before ``cutoff``, the baseline; returns how many rows went (retention)."""
        ...


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


class MemoryDriftRepository:
    """In-memory stand-in for unit tests (no encryption: nothing leaves the process)."""

    def __init__(self) -> None:
        self.baselines: dict[tuple[str, str], BaselineInfo] = {}
        self.series: dict[tuple[str, str], list[WindowRow]] = {}

    def load_baseline(self, tenant: str, collection: str, model_version: str, dimension: int
                      ) -> BaselineInfo | None:
        info = self.baselines.get((tenant, collection))
        return info if info is not None and info.model_version == model_version else None

    def save_baseline(self, tenant: str, collection: str, model_version: str, baseline: Baseline,
                      created_at: str) -> None:
        self.baselines[(tenant, collection)] = BaselineInfo(baseline, model_version, created_at)

    def add_window(self, tenant: str, collection: str, row: WindowRow) -> None:
        self.series.setdefault((tenant, collection), []).append(row)

    def windows(self, tenant: str, collection: str, limit: int) -> list[WindowRow]:
        return self.series.get((tenant, collection), [])[-limit:]

    def forget(self, tenant: str, collection: str) -> None:
        self.baselines.pop((tenant, collection), None)
        self.series.pop((tenant, collection), None)

    def purge_before(self, tenant: str, collection: str, cutoff: str, *, baseline: bool) -> int:
        kept = [w for w in self.series.get((tenant, collection), []) if w.closed_at >= cutoff]
        purged = len(self.series.get((tenant, collection), [])) - len(kept)
        self.series[(tenant, collection)] = kept
        info = self.baselines.get((tenant, collection))
        if info is not None and (baseline or info.created_at < cutoff):
            del self.baselines[(tenant, collection)]
            purged += 1
        return purged
