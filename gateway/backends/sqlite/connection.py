"""SQLite connections for the embedded default: WAL, full fsync, one connection per thread, files 0600."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path


def ensure_private_file(path: Path) -> None:
    """Create ``path`` (and its directory) readable only by the owner, if it does not exist yet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
    os.chmod(path, 0o600)


class SQLiteDatabase:
    """A thread-local connection factory over one database file."""

    def __init__(self, path: Path, schema: str = "") -> None:
        self.path = path
        ensure_private_file(path)
        self._local = threading.local()
        self._lock = threading.Lock()
        if schema:
            with self._lock:
                conn = self.connect()
                conn.executescript(schema)
                conn.commit()

    def connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    def __call__(self) -> sqlite3.Connection:
        return self.connect()
