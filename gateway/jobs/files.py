"""Uploaded and produced files (OpenAI's Files API, ``purpose`` ``batch`` and ``batch_output``), sealed at rest.

``FileStore`` is the backend's table (``backends/sqlite/files.py``, ``backends/postgres/files.py``): it holds only
ciphertext (the content and the file name, each sealed under the tenant's data key with the file's id bound in)
and the metadata OpenAI's file object shows. ``FileVault`` is what the use cases call: it seals, opens, enforces the
size limit and the tenant (another tenant's file is ``NotFound``), and gives each file its expiry.
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.crypto.envelope import Envelope, RecordContext
from gateway.errors import NotFound, PayloadTooLarge

_SEALED_AS = "_files"


@dataclass(frozen=True)
class FileRow:
    id: str
    tenant: str
    purpose: str
    filename: bytes  # sealed
    bytes: int
    created_at: float
    expires_at: float


@dataclass(frozen=True)
class FileInfo:
    id: str
    purpose: str
    filename: str
    bytes: int
    created_at: float
    expires_at: float

    def openai(self) -> dict[str, Any]:
        return {"id": self.id, "object": "file", "bytes": self.bytes, "created_at": int(self.created_at),
                "expires_at": int(self.expires_at), "filename": self.filename, "purpose": self.purpose,
                "status": "processed", "status_details": None}


class FileStore(Protocol):
    def put(self, row: FileRow, content: bytes) -> None:
        """Insert the file, or replace the one with its id (a job's output written again after a crash)."""
        ...

    def get(self, tenant: str, file_id: str) -> FileRow | None: ...

    def content(self, tenant: str, file_id: str) -> bytes | None: ...

    def list_files(self, tenant: str, purpose: str | None, limit: int, after: str | None) -> list[FileRow]:
        """Newest first, from the one after ``after`` (an id)."""
        ...

    def delete(self, tenant: str, file_id: str) -> bool: ...

    def purge(self, now: float) -> int:
        """Delete every file whose expiry has passed; how many."""
        ...


class FileVault:
    def __init__(self, store: FileStore, envelope: Envelope, *, max_bytes: int, keep_s: float,
                 retention_days: Callable[[str], int | None] = lambda tenant: None,
                 clock: Callable[[], float] = time.time) -> None:
        """``keep_s``: how long a file is kept (``files_expiry_days``); ``retention_days``: the tenant's retention in
        the policy, which shortens it."""
        self.store = store
        self._retention = retention_days
        self._envelope = envelope
        self.max_bytes = max_bytes
        self._keep_s = keep_s
        self._clock = clock

    def write(self, tenant: str, purpose: str, filename: str, content: bytes, file_id: str | None = None) -> FileInfo:
        if len(content) > self.max_bytes:
            raise PayloadTooLarge(f"the file is {len(content)} bytes; the limit is {self.max_bytes}", param="file")
        file_id = file_id or "file-" + uuid.uuid4().hex
        now = self._clock()
        days = self._retention(tenant)
        expires = now + (self._keep_s if days is None else min(self._keep_s, days * 86400.0))
        row = FileRow(file_id, tenant, purpose, self._seal(tenant, file_id + "/name", filename.encode("utf-8")),
                      len(content), now, expires)
        self.store.put(row, self._seal(tenant, file_id, content))
        return FileInfo(file_id, purpose, filename, len(content), now, expires)

    def read(self, tenant: str, file_id: str) -> bytes:
        sealed = self.store.content(tenant, file_id)
        if sealed is None:
            raise NotFound("no such file", param="file_id")
        return self._open(tenant, file_id, sealed)

    def info(self, tenant: str, file_id: str) -> FileInfo:
        row = self.store.get(tenant, file_id)
        if row is None:
            raise NotFound("no such file", param="file_id")
        return self._info(row)

    async def upload(self, tenant: str, purpose: str, filename: str, content: bytes) -> FileInfo:
        return await asyncio.to_thread(self.write, tenant, purpose, filename, content)

    async def describe(self, tenant: str, file_id: str) -> FileInfo:
        return await asyncio.to_thread(self.info, tenant, file_id)

    async def content(self, tenant: str, file_id: str) -> bytes:
        return await asyncio.to_thread(self.read, tenant, file_id)

    async def listing(self, tenant: str, purpose: str | None, limit: int, after: str | None) -> list[FileInfo]:
        rows = await asyncio.to_thread(self.store.list_files, tenant, purpose, limit, after)
        return [self._info(r) for r in rows]

    async def delete(self, tenant: str, file_id: str) -> None:
        if not await asyncio.to_thread(self.store.delete, tenant, file_id):
            raise NotFound("no such file", param="file_id")

    def seal_note(self, tenant: str, owner_id: str, data: bytes) -> str:
        """A small value kept with a job (a batch's metadata), sealed and base64-encoded."""
        return base64.b64encode(self._seal(tenant, owner_id + "/note", data)).decode("ascii")

    def open_note(self, tenant: str, owner_id: str, sealed: str) -> bytes:
        return self._open(tenant, owner_id + "/note", base64.b64decode(sealed))

    def _info(self, row: FileRow) -> FileInfo:
        name = self._open(row.tenant, row.id + "/name", row.filename).decode("utf-8")
        return FileInfo(row.id, row.purpose, name, row.bytes, row.created_at, row.expires_at)

    def _seal(self, tenant: str, record: str, data: bytes) -> bytes:
        return self._envelope.encrypt(RecordContext(tenant, _SEALED_AS, record, "1"), data)

    def _open(self, tenant: str, record: str, sealed: bytes) -> bytes:
        return self._envelope.decrypt(RecordContext(tenant, _SEALED_AS, record, "1"), sealed)
