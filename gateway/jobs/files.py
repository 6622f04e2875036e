"""Uploaded and produced files (OpenAI's Files API, ``purpose`` ``batch`` and ``batch_output``), sealed at rest.

``FileStore`` is the backend's table (``backends/sqlite/files.py``, ``backends/postgres/files.py``): it holds only
ciphertext (the content and the file name, each sealed under the tenant's data key with the file's id bound in; the
content in chunks of 1 MiB, ``gateway.crypto.chunked``, so sealing 50 MB never holds the interpreter at once)
and the metadata OpenAI's file object shows. ``FileVault`` is what the use cases call: it seals, opens, enforces the
size limits (one file's, and ``max_tenant_bytes``: all of a tenant's stored files together) and the tenant (another
tenant's file is ``NotFound``), and gives each file its expiry. An upload records its uploader, sealed: an input
file holds its texts unscreened, so its content is the uploader's (``read_as``). ``Slots``
(``gateway.limits.concurrency``) caps the uploads in progress, per process and per tenant; an upload past either is
refused at once (429 with ``Retry-After``), never queued.

A batch's output and error files count toward the tenant's stored bytes but are never refused, neither by that
allowance nor by ``max_bytes`` (the upload limit: 14,336 vectors as JSON floats already pass 100 MiB): a running batch
must not fail at its end (uploads are refused until files are deleted or expire).
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import hmac
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.auth.apikeys import Principal
from gateway.crypto.chunked import CHUNK_BYTES
from gateway.crypto.envelope import Envelope, RecordContext
from gateway.errors import BadRequest, NotFound, PayloadTooLarge
from gateway.jobs.multipart import parse_form
from gateway.limits.concurrency import Slots

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
    uploader: builtins.bytes | None = None  # sealed (``uploader_of``); None: a produced file, or one uploaded before it

    COLUMNS = "id, tenant, purpose, filename, bytes, created_at, expires_at, uploader"  # as both backends select them

    @classmethod
    def from_columns(cls, r: Sequence[Any]) -> FileRow:
        """A row selected as ``COLUMNS``, from either backend."""
        return cls(r[0], r[1], r[2], bytes(r[3]), int(r[4]), float(r[5]), float(r[6]),
                   None if r[7] is None else bytes(r[7]))


def uploader_of(principal: Principal) -> str:
    """Who uploads a file, as its row records it (sealed): an API key's id (the same after a rotation), or for a token
    the gateway's id of its (issuer, tenant, subject); never a secret or a token."""
    return f"{principal.method}:{principal.key_id}"


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
    def put(self, row: FileRow, content: bytes | bytearray) -> None:
        """Insert the file, or replace the one with its id (a job's output written again after a crash); a bytearray is
        stored as it is, without a copy (a batch's output sealed a chunk at a time)."""
        ...

    def get(self, tenant: str, file_id: str) -> FileRow | None: ...

    def content(self, tenant: str, file_id: str) -> bytes | None: ...

    def list_files(self, tenant: str, purpose: str | None, limit: int, after: str | None) -> list[FileRow]:
        """Newest first, from the one after ``after`` (an id)."""
        ...

    def delete(self, tenant: str, file_id: str) -> bool: ...

    def stored_bytes(self, tenant: str) -> int:
        """The size of all the tenant's files (expired ones not yet purged included)."""
        ...

    def purge(self, now: float) -> int:
        """Delete every file whose expiry has passed; how many."""
        ...

    def purge_tenant(self, tenant: str) -> int:
        """Delete every file of ``tenant`` (a shred: sealed under keys that are gone); how many."""
        ...


class FileVault:
    def __init__(self, store: FileStore, envelope: Envelope, *, max_bytes: int, keep_s: float,
                 max_tenant_bytes: int = 2 * 1024**3, max_uploads: int = 2, max_tenant_uploads: int = 1,
                 retention_days: Callable[[str], int | None] = lambda tenant: None,
                 clock: Callable[[], float] = time.time, chunk_bytes: int = CHUNK_BYTES) -> None:
        """``keep_s``: how long a file is kept (``files_expiry_days``); ``retention_days``: the tenant's retention in
        the policy, which shortens it; ``chunk_bytes``: the content is sealed in chunks of this size."""
        self._chunk_bytes = chunk_bytes
        self.store = store
        self._retention = retention_days
        self._envelope = envelope
        self.max_bytes = max_bytes
        self.max_tenant_bytes = max_tenant_bytes
        self.slots = Slots(max_uploads, max_tenant_uploads, "uploads", "files_max_concurrent_uploads",
                           "files_max_tenant_uploads")
        self._quota_lock = threading.Lock()  # a tenant's check and its write, one upload at a time
        self._keep_s = keep_s
        self._clock = clock

    def write(self, tenant: str, purpose: str, filename: str, content: bytes, file_id: str | None = None,
              uploader: str | None = None) -> FileInfo:
        """Store a file of any size: ``write_upload`` holds uploads to ``max_bytes``; a batch's output is never
        refused (its vectors are several times the input's bytes; its size is bounded by the batch's inputs).
        ``uploader`` (``uploader_of``) is sealed with the file: only they (and ``read_any``) read its content."""
        file_id = file_id or "file-" + uuid.uuid4().hex
        now = self._clock()
        days = self._retention(tenant)
        expires = now + (self._keep_s if days is None else min(self._keep_s, days * 86400.0))
        sealed_uploader = None if uploader is None else self._seal(tenant, file_id + "/uploader", uploader.encode())
        row = FileRow(file_id, tenant, purpose, self._seal(tenant, file_id + "/name", filename.encode("utf-8")),
                      len(content), now, expires, sealed_uploader)
        self.store.put(row, self._envelope.encrypt_chunked(self._context(tenant, file_id), content, self._chunk_bytes))
        return FileInfo(file_id, purpose, filename, len(content), now, expires)

    def write_lines(self, tenant: str, purpose: str, filename: str, lines: Sequence[bytes],
                    file_id: str | None = None) -> FileInfo:
        """``write`` of the lines, each ended by a newline (a JSONL file), sealed as they come: the content is never
        joined in memory, so a batch's output of ~420 MB is held once (its lines), not three times. A job's output:
        sealed only under the tenant's existing data key (``DecryptionFailed`` if it was shredded meanwhile), never
        under one made anew."""
        file_id = file_id or "file-" + uuid.uuid4().hex
        now = self._clock()
        days = self._retention(tenant)
        expires = now + (self._keep_s if days is None else min(self._keep_s, days * 86400.0))
        size = sum(len(line) + 1 for line in lines)
        name = self._envelope.encrypt_existing(self._context(tenant, file_id + "/name"), filename.encode("utf-8"))
        row = FileRow(file_id, tenant, purpose, name, size, now, expires)
        pieces = (piece for line in lines for piece in (line, b"\n"))
        self.store.put(row, self._envelope.encrypt_pieces(self._context(tenant, file_id), pieces, self._chunk_bytes,
                                                          create=False))
        return FileInfo(file_id, purpose, filename, size, now, expires)

    def room(self, tenant: str) -> int:
        """How many more bytes of uploads the tenant may store (``max_tenant_bytes`` less its stored files)."""
        return max(0, self.max_tenant_bytes - self.store.stored_bytes(tenant))

    def write_upload(self, tenant: str, purpose: str, filename: str, content: bytes,
                     uploader: str | None = None) -> FileInfo:
        """``write``, refused over ``max_bytes`` or when the tenant's stored files and this one would pass
        ``max_tenant_bytes``."""
        if len(content) > self.max_bytes:
            raise PayloadTooLarge(f"the file is {len(content)} bytes; the limit is {self.max_bytes}", param="file")
        with self._quota_lock:
            stored = self.store.stored_bytes(tenant)
            if stored + len(content) > self.max_tenant_bytes:
                raise self.too_much(stored, len(content))
            return self.write(tenant, purpose, filename, content, uploader=uploader)

    def too_much(self, stored: int, size: int) -> PayloadTooLarge:
        return PayloadTooLarge(f"the tenant's files hold {stored} bytes; this upload of {size} bytes would pass "
                               f"files_max_tenant_bytes, {self.max_tenant_bytes} bytes: delete files first",
                               param="file")

    def read(self, tenant: str, file_id: str) -> bytes:
        return b"".join(self.chunks(tenant, file_id))

    def chunks(self, tenant: str, file_id: str) -> Iterator[bytes]:
        """The file's content a chunk at a time, each opened and verified as it is reached (``DecryptionFailed`` at
        one altered, moved, dropped or cut off); a file sealed in one piece, before chunks, comes whole."""
        sealed = self.store.content(tenant, file_id)
        if sealed is None:
            raise NotFound("no such file", param="file_id")
        return self._envelope.decrypt_chunks(self._context(tenant, file_id), sealed)

    def info(self, tenant: str, file_id: str) -> FileInfo:
        row = self.store.get(tenant, file_id)
        if row is None:
            raise NotFound("no such file", param="file_id")
        return self._info(row)

    def read_as(self, tenant: str, file_id: str, reader: str, read_any: bool) -> bytes:
        """``read`` for a caller: an input file (``purpose`` ``batch``: its texts as uploaded, unscreened) only for its
        uploader (``reader``, ``uploader_of``) or a caller with ``read_any`` (``files``, ``read_any``: the tenant's
        admin); one uploaded before uploaders were recorded, only with ``read_any``. To anyone else it is
        ``NotFound``, as an unknown file (its audit entry says ``not_uploader``). A batch's output and error files
        (screened results) are the tenant's to read."""
        row = self.store.get(tenant, file_id)
        if row is None:
            raise NotFound("no such file", param="file_id")
        if row.purpose == "batch" and not read_any and not self._uploaded_by(row, reader):
            raise NotFound("no such file", param="file_id",
                           detail={"audit": {"file_id": file_id, "what": "content", "reason": "not_uploader"}})
        return self.read(tenant, file_id)

    def _uploaded_by(self, row: FileRow, reader: str) -> bool:
        if row.uploader is None:
            return False
        return hmac.compare_digest(self._open(row.tenant, row.id + "/uploader", row.uploader), reader.encode())

    async def upload(self, tenant: str, purpose: str, filename: str, content: bytes) -> FileInfo:
        return await asyncio.to_thread(self.write_upload, tenant, purpose, filename, content)

    @staticmethod
    def read_form(content_type: str, body: bytes | bytearray, max_name: int) -> tuple[str, bytes]:
        """An upload's ``multipart/form-data`` body (fields ``purpose`` and ``file``): its file name and content."""
        form = parse_form(content_type, body)
        if form.fields.get("purpose") != "batch":
            raise BadRequest("'purpose' must be 'batch': files here are the input of batches", param="purpose")
        if form.filename is None:
            raise BadRequest("'file' is required: the batch's input, JSON Lines", param="file")
        return (form.filename or "input.jsonl")[:max_name], form.content

    async def upload_form(self, tenant: str, content_type: str, body: bytes | bytearray, max_name: int,
                          screen: Callable[[str], Awaitable[None]], uploader: str | None = None) -> FileInfo:
        """Parse the form off the loop, ``screen`` its file name (shown to every reader: refused with PII), store. The
        caller holds one of the tenant's upload ``slots``; the threads keep it counted until they end."""
        name, content = await self.slots.run(tenant, self.read_form, content_type, body, max_name)
        await screen(name)
        return await self.slots.run(tenant, self.write_upload, tenant, "batch", name, content, uploader)

    async def room_left(self, tenant: str) -> int:
        return await asyncio.to_thread(self.room, tenant)

    async def describe(self, tenant: str, file_id: str) -> FileInfo:
        return await asyncio.to_thread(self.info, tenant, file_id)

    async def content(self, tenant: str, file_id: str, reader: str, read_any: bool) -> bytes:
        return await asyncio.to_thread(self.read_as, tenant, file_id, reader, read_any)

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
        return self._envelope.encrypt(self._context(tenant, record), data)

    def _open(self, tenant: str, record: str, sealed: bytes) -> bytes:
        return self._envelope.decrypt(self._context(tenant, record), sealed)

    @staticmethod
    def _context(tenant: str, record: str) -> RecordContext:
        return RecordContext(tenant, _SEALED_AS, record, "1")
