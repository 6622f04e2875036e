"""The entries of a gateway's embedded audit log, read as an auditor reads the file: every leaf, in order."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any


def logged_entries(data_dir: Path) -> list[dict[str, Any]]:
    """Every entry of ``<data_dir>/audit.db``, oldest first, as the JSON each leaf holds."""
    conn = sqlite3.connect(data_dir / "audit.db")
    try:
        return [json.loads(bytes(row[0])) for row in conn.execute("SELECT leaf FROM entries ORDER BY idx")]
    finally:
        conn.close()
