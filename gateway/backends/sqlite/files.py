"""``FileStore`` in the embedded SQLite database (``gateway.db``): sealed file contents and names, and metadata."""

from __future__ import annotations

from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.backends.sqlite.store_rows import transaction
from gateway.jobs.files import FileRow

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    purpose TEXT NOT NULL,
    filename BLOB NOT NULL,
    bytes INTEGER NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    content BLOB NOT NULL,
    uploader BLOB
);
CREATE INDEX IF NOT EXISTS files_by_tenant ON files (tenant, created_at);
"""
# Columns added after the first release: a database made before them gains them at open (its files keep NULL).
ADDED_COLUMNS = (("uploader", "BLOB"),)
_COLUMNS = FileRow.COLUMNS


class SQLiteFileStore:
    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        conn = db()
        conn.executescript(SCHEMA)
        with transaction(conn):  # workers opening together add a column once: each checks under the write lock
            present = {row[1] for row in conn.execute("PRAGMA table_info(files)")}
            for column, declaration in ADDED_COLUMNS:
                if column not in present:
                    conn.execute(f"ALTER TABLE files ADD COLUMN {column} {declaration}")

    def put(self, row: FileRow, content: bytes | bytearray) -> None:
        self._db().execute(
            f"INSERT OR REPLACE INTO files ({_COLUMNS}, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
            (row.id, row.tenant, row.purpose, row.filename, row.bytes, row.created_at, row.expires_at, row.uploader,
             content),
        )

    def get(self, tenant: str, file_id: str) -> FileRow | None:
        r = self._db().execute(f"SELECT {_COLUMNS} FROM files WHERE id = ? AND tenant = ?",  # noqa: S608
                               (file_id, tenant)).fetchone()
        return None if r is None else FileRow.from_columns(r)

    def content(self, tenant: str, file_id: str) -> bytes | None:
        r = self._db().execute("SELECT content FROM files WHERE id = ? AND tenant = ?", (file_id, tenant)).fetchone()
        return None if r is None else bytes(r[0])

    def list_files(self, tenant: str, purpose: str | None, limit: int, after: str | None) -> list[FileRow]:
        start = None if after is None else self.get(tenant, after)
        if after is not None and start is None:
            return []
        at, at_id = (None, None) if start is None else (start.created_at, start.id)
        rows = self._db().execute(
            f"SELECT {_COLUMNS} FROM files WHERE tenant = ? AND (? IS NULL OR purpose = ?) "  # noqa: S608
            "AND (? IS NULL OR created_at < ? OR (created_at = ? AND id < ?)) "
            "ORDER BY created_at DESC, id DESC LIMIT ?",
            (tenant, purpose, purpose, at, at, at, at_id, limit),
        ).fetchall()
        return [FileRow.from_columns(r) for r in rows]

    def delete(self, tenant: str, file_id: str) -> bool:
        return self._db().execute("DELETE FROM files WHERE id = ? AND tenant = ?", (file_id, tenant)).rowcount == 1

    def stored_bytes(self, tenant: str) -> int:
        r = self._db().execute("SELECT COALESCE(SUM(bytes), 0) FROM files WHERE tenant = ?", (tenant,)).fetchone()
        return int(r[0])

    def purge(self, now: float) -> int:
        return int(self._db().execute("DELETE FROM files WHERE expires_at < ?", (now,)).rowcount)

    def purge_tenant(self, tenant: str) -> int:
        return int(self._db().execute("DELETE FROM files WHERE tenant = ?", (tenant,)).rowcount)
