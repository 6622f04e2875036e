"""The SQLite privacy ledger: one row per distinct release, in its own file and table (WAL).

A release is the primary key (tenant, scope, sigma, digest), so ``INSERT OR IGNORE`` makes repeats free and
counting atomic, even with several gateway processes on one file. Digests are the HMAC content digests the
pipeline already computes; no text is stored.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from gateway.backends.sqlite.connection import ensure_private_file
from gateway.privacy.ledger_base import (
    DEFAULT_DELTA,
    DEFAULT_RADIUS,
    Counts,
    Fits,
    Group,
    LedgerBase,
    counts_by_scope,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS privacy_releases (
    tenant TEXT NOT NULL,
    scope  TEXT NOT NULL,
    sigma  REAL NOT NULL,
    digest BLOB NOT NULL,
    PRIMARY KEY (tenant, scope, sigma, digest)
) WITHOUT ROWID;
-- Kept in step with privacy_releases in the same transaction, so reading a tenant's spend never scans its releases.
CREATE TABLE IF NOT EXISTS privacy_counts (
    tenant TEXT NOT NULL,
    scope  TEXT NOT NULL,
    sigma  REAL NOT NULL,
    releases INTEGER NOT NULL,
    PRIMARY KEY (tenant, scope, sigma)
) WITHOUT ROWID;
"""
_BACKFILL = """
INSERT INTO privacy_counts (tenant, scope, sigma, releases)
SELECT tenant, scope, sigma, COUNT(*) FROM privacy_releases GROUP BY tenant, scope, sigma
"""


class SQLitePrivacyLedger(LedgerBase):
    """Thread-safe (one connection behind a lock); process-safe through SQLite's own locking."""

    def __init__(self, path: Path, *, delta: float = DEFAULT_DELTA, radius: float = DEFAULT_RADIUS) -> None:
        super().__init__(delta=delta, radius=radius)
        ensure_private_file(path)  # 0600 like the data dir's other databases: it names tenants and digests
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30.0)
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)
            if self._conn.execute("SELECT COUNT(*) FROM privacy_counts").fetchone()[0] == 0:
                self._conn.execute(_BACKFILL)  # a ledger written before the counts table existed

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _insert_new(self, groups: Sequence[Group]) -> list[int]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                new = [self._insert_group(group) for group in groups]
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return new

    def _insert_if(self, group: Group, fits: Fits) -> tuple[int, Counts] | None:
        # BEGIN IMMEDIATE takes the file's write lock: the check and the insert are one step for every thread and
        # every gateway process on this file.
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                new = self._insert_group(group)
                counts = self._counts_locked(group[0])
                ok = fits(counts)
                self._conn.execute("COMMIT" if ok else "ROLLBACK")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return (new, counts) if ok else None

    def _insert_group(self, group: Group) -> int:
        tenant, scope, sigma, digests = group
        before = self._conn.total_changes
        self._conn.executemany(
            "INSERT OR IGNORE INTO privacy_releases (tenant, scope, sigma, digest) VALUES (?, ?, ?, ?)",
            [(tenant, scope, sigma, d) for d in digests],
        )
        inserted = self._conn.total_changes - before
        if inserted:
            self._conn.execute(
                "INSERT INTO privacy_counts (tenant, scope, sigma, releases) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (tenant, scope, sigma) DO UPDATE SET releases = releases + excluded.releases",
                (tenant, scope, sigma, inserted),
            )
        return inserted

    def rename_scope(self, tenant: str, old: str, new: str) -> None:
        """Zeroing what it replaces (``secure_delete``, then a WAL checkpoint): the old name must not linger."""
        with self._lock:
            self._conn.execute("PRAGMA secure_delete = ON")
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for table in ("privacy_releases", "privacy_counts"):
                    self._conn.execute(f"UPDATE {table} SET scope = ? WHERE tenant = ? AND scope = ?",  # noqa: S608
                                       (new, tenant, old))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            finally:
                self._conn.execute("PRAGMA secure_delete = OFF")
            with contextlib.suppress(sqlite3.Error):  # busy readers: zeroed at the next checkpoint anyway
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _known(self, tenant: str, scope: str, sigma: float, digests: Sequence[bytes]) -> int:
        known = 0
        with self._lock:
            for start in range(0, len(digests), 500):
                part = list(digests[start : start + 500])
                marks = ",".join("?" * len(part))  # placeholders only: the values are bound
                where = f"tenant = ? AND scope = ? AND sigma = ? AND digest IN ({marks})"
                sql = "SELECT COUNT(*) FROM privacy_releases WHERE " + where  # noqa: S608
                known += self._conn.execute(sql, (tenant, scope, sigma, *part)).fetchone()[0]
        return int(known)

    def _counts(self, tenant: str) -> dict[str, dict[float, int]]:
        with self._lock:
            return self._counts_locked(tenant)

    def _counts_locked(self, tenant: str) -> Counts:
        rows = self._conn.execute("SELECT scope, sigma, releases FROM privacy_counts WHERE tenant = ?",
                                  (tenant,)).fetchall()
        return counts_by_scope(rows)

