"""Export a gateway's audit log for offline verification, without the gateway running.

Reads ``<data-dir>/audit.db`` read-only and writes the entries covered by the latest signed checkpoint,
one per line (each line exactly the leaf bytes), plus that checkpoint. Entries written after the last
checkpoint are left out: nothing vouches for them yet (the gateway signs one every second and on stop).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from audit.errors import AuditError

LOG_FILE = "audit.db"


@dataclass(frozen=True)
class ExportResult:
    """How many entries were exported and how many newer, uncheckpointed ones were left out."""

    size: int
    left_out: int


def export_log(data_dir: Path, out: Path, checkpoint_out: Path) -> ExportResult:
    """Write the checkpointed entries to ``out`` (JSONL) and the checkpoint note to ``checkpoint_out``."""
    db = data_dir / LOG_FILE
    if not db.is_file():
        raise AuditError(f"no audit log at {db}")
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1").fetchone()
        if row is None:
            raise AuditError("the audit log has no signed checkpoint yet")
        size, note = int(row[0]), str(row[1])
        total = int(conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0])
        with out.open("wb") as f:
            rows = conn.execute("SELECT idx, leaf FROM entries WHERE idx < ? ORDER BY idx", (size,))
            for expected, (idx, leaf) in enumerate(rows):
                if idx != expected or b"\n" in bytes(leaf):
                    raise AuditError(f"entry {expected} is missing or malformed in the stored log")
                f.write(bytes(leaf) + b"\n")
    finally:
        conn.close()
    checkpoint_out.write_text(note, encoding="utf-8")
    return ExportResult(size, total - size)
