"""Quick benchmark: audit appends/s with group commit vs. one durable commit per entry (the raw baseline).

Run: ``.venv/bin/python -m bench.audit_group_commit`` (not collected by pytest: no timed asserts).
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

from audit.canonical import canonical_json
from audit.checkpoint import CheckpointSigner
from audit.keys import generate_private_key
from audit.merkle import leaf_hash
from audit.sqlite_log import SQLiteAuditLog
from tests.unit.audit.audit_testkit import make_entry

THREADS, PER_THREAD, BASELINE = 64, 200, 500


def baseline(path: Path) -> float:
    """Appends/s when every entry is its own durable transaction (WAL, synchronous=FULL)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE entries(idx INTEGER PRIMARY KEY, leaf BLOB, leaf_hash BLOB)")
    start = time.perf_counter()
    for i in range(BASELINE):
        leaf = canonical_json(make_entry(i))
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO entries VALUES (?, ?, ?)", (i, leaf, leaf_hash(leaf)))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return BASELINE / elapsed


def group_commit(path: Path) -> float:
    """Appends/s with THREADS concurrent callers, each waiting for its entry to be durable."""
    log = SQLiteAuditLog(path, CheckpointSigner(generate_private_key(), "bench"), "bench")

    def work(t: int) -> None:
        for i in range(PER_THREAD):
            log.append(make_entry(t * PER_THREAD + i))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    start = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - start
    log.close()
    return THREADS * PER_THREAD / elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        raw = baseline(Path(tmp) / "raw.db")
        grouped = group_commit(Path(tmp) / "audit.db")
    sys.stdout.write(
        f"one commit per entry: {raw:,.0f} appends/s\n"
        f"group commit, {THREADS} threads: {grouped:,.0f} appends/s (x{grouped / raw:.1f})\n"
    )


if __name__ == "__main__":
    main()
