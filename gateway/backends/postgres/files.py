"""``FileStore`` in PostgreSQL (migration 7, its ``uploader`` migration 10): sealed file contents and names, shared
by every replica."""

from __future__ import annotations

from gateway.backends.postgres.connection import PgDatabase
from gateway.jobs.files import FileRow

_COLUMNS = FileRow.COLUMNS


class PgFileStore:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    def put(self, row: FileRow, content: bytes | bytearray) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                f"INSERT INTO files ({_COLUMNS}, content) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "  # noqa: S608
                "ON CONFLICT (id) DO UPDATE SET filename = EXCLUDED.filename, bytes = EXCLUDED.bytes, "
                "created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at, uploader = EXCLUDED.uploader, "
                "content = EXCLUDED.content "
                "WHERE files.tenant = EXCLUDED.tenant",
                (row.id, row.tenant, row.purpose, row.filename, row.bytes, row.created_at, row.expires_at, row.uploader,
                 content),
            )

    def get(self, tenant: str, file_id: str) -> FileRow | None:
        with self._db.transaction() as conn:
            r = conn.execute(f"SELECT {_COLUMNS} FROM files WHERE id = %s AND tenant = %s",  # noqa: S608
                             (file_id, tenant)).fetchone()
        return None if r is None else FileRow.from_columns(r)

    def content(self, tenant: str, file_id: str) -> bytes | None:
        with self._db.transaction() as conn:
            r = conn.execute("SELECT content FROM files WHERE id = %s AND tenant = %s", (file_id, tenant)).fetchone()
        return None if r is None else bytes(r[0])

    def list_files(self, tenant: str, purpose: str | None, limit: int, after: str | None) -> list[FileRow]:
        start = None if after is None else self.get(tenant, after)
        if after is not None and start is None:
            return []
        at, at_id = (None, None) if start is None else (start.created_at, start.id)
        with self._db.transaction() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM files WHERE tenant = %s AND (%s::text IS NULL OR purpose = %s) "  # noqa: S608
                "AND (%s::double precision IS NULL OR (created_at, id) < (%s, %s)) "
                "ORDER BY created_at DESC, id DESC LIMIT %s",
                (tenant, purpose, purpose, at, at, at_id, limit),
            ).fetchall()
        return [FileRow.from_columns(r) for r in rows]

    def delete(self, tenant: str, file_id: str) -> bool:
        with self._db.transaction() as conn:
            return conn.execute("DELETE FROM files WHERE id = %s AND tenant = %s", (file_id, tenant)).rowcount == 1

    def stored_bytes(self, tenant: str) -> int:
        with self._db.transaction() as conn:
            r = conn.execute("SELECT COALESCE(SUM(bytes), 0) FROM files WHERE tenant = %s", (tenant,)).fetchone()
        return 0 if r is None else int(r[0])

    def purge(self, now: float) -> int:
        with self._db.transaction() as conn:
            return int(conn.execute("DELETE FROM files WHERE expires_at < %s", (now,)).rowcount)

    def purge_tenant(self, tenant: str) -> int:
        with self._db.transaction() as conn:
            return int(conn.execute("DELETE FROM files WHERE tenant = %s", (tenant,)).rowcount)
