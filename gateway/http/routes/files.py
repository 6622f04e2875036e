"""OpenAI's Files API for batches: ``/v1/files`` upload (multipart, ``purpose=batch``), describe, content, delete,
list. Contents are sealed under the tenant's data key (``gateway.jobs.files``); another tenant's file is 404, and so
is an input file's content to anyone but its uploader and ``files``, ``read_any`` (the tenant's admin)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, post
from litestar.exceptions import HTTPException

from gateway.bootstrap import Services
from gateway.errors import BadRequest, PayloadTooLarge
from gateway.http.guard import Call, Guard, Reply, governed
from gateway.jobs.files import uploader_of

UPLOAD = Guard(event="file.upload", obj="files", act="create", openai_errors=True)
READ = Guard(event="file.read", obj="files", act="read", openai_errors=True)
DROP = Guard(event="file.delete", obj="files", act="delete", openai_errors=True)
MAX_FILENAME_CHARS = 255
MULTIPART_SLACK = 64 * 1024  # the form's boundaries and fields around the file


def _file_id(call: Call) -> str:
    return str(call.request.path_params["file_id"])


def page(call: Call, default: int, most: int) -> tuple[int, str | None]:
    """``limit`` (1 to ``most``) and ``after`` (an id) of a list request."""
    raw = call.request.query_params.get("limit", str(default))
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= most:  # int() fails on '²'
        raise BadRequest(f"'limit' must be a whole number from 1 to {most}", param="limit")
    return int(raw), call.request.query_params.get("after") or None


async def _upload(call: Call) -> Reply:
    files, tenant = call.services.files, call.principal.tenant
    raw = call.request.headers.get("content-length", "")
    declared = int(raw) if raw.isascii() and raw.isdigit() else None
    if declared is not None and declared > files.max_bytes + MULTIPART_SLACK:
        raise PayloadTooLarge(f"the upload of {declared} bytes exceeds the file limit of {files.max_bytes} bytes")
    files.slots.take(tenant)  # before the body is read: the extra uploads are refused at once, not queued
    try:
        room = await files.room_left(tenant)
        if declared is not None and declared > room + MULTIPART_SLACK:
            raise files.too_much(files.max_tenant_bytes - room, declared)
        return await _store(call)
    finally:
        files.slots.give(tenant)


async def _store(call: Call) -> Reply:
    """Read the body as it streams in (refused once past the file limit), then parse and seal it off the loop."""
    most = call.services.files.max_bytes + MULTIPART_SLACK
    body = bytearray()
    try:
        async for chunk in call.request.stream():
            body += chunk
            if len(body) > most:
                raise PayloadTooLarge(f"the upload exceeds the file limit of {call.services.files.max_bytes} bytes")
    except PayloadTooLarge:
        raise
    except HTTPException as exc:  # the app's own body limit (files_max_bytes and a little) came first
        if exc.status_code == 413:
            raise PayloadTooLarge(f"the upload exceeds the file limit of {call.services.files.max_bytes} bytes") \
                from None
        raise BadRequest("could not read the request body") from None
    except Exception:
        raise BadRequest("could not read the request body") from None
    content_type = call.request.headers.get("content-type", "")
    info = await call.services.files.upload_form(
        call.principal.tenant, content_type, body, MAX_FILENAME_CHARS,
        lambda name: call.services.batches.screen_filename(call.principal, name), uploader_of(call.principal),
    )
    return Reply(info.openai(), audit={"file_id": info.id, "bytes": info.bytes, "purpose": info.purpose})


async def _describe(call: Call) -> Reply:
    info = await call.services.files.describe(call.principal.tenant, _file_id(call))
    return Reply(info.openai(), audit={"file_id": info.id, "what": "file"})


async def _content(call: Call) -> Reply:
    read_any = call.services.authorizer.allowed(call.principal, "files", "read_any")  # the tenant's admin
    content = await call.services.files.content(call.principal.tenant, _file_id(call), uploader_of(call.principal),
                                                read_any)
    return Reply(content, media_type="application/octet-stream",
                 audit={"file_id": _file_id(call), "bytes": len(content), "what": "content"})


async def _delete(call: Call) -> Reply:
    await call.services.files.delete(call.principal.tenant, _file_id(call))
    return Reply({"id": _file_id(call), "object": "file", "deleted": True}, audit={"file_id": _file_id(call)})


async def _list(call: Call) -> Reply:
    limit, after = page(call, 10_000, 10_000)
    purpose = call.request.query_params.get("purpose") or None
    files = await call.services.files.listing(call.principal.tenant, purpose, limit + 1, after)
    data = [f.openai() for f in files[:limit]]
    body = {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None, "has_more": len(files) > limit}
    return Reply(body, audit={"count": len(data), "what": "list"})


@post("/v1/files", status_code=200, summary="Upload a batch input file (OpenAI-compatible)")
async def upload_file(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, UPLOAD, _upload)


@get("/v1/files", summary="List the tenant's files")
async def list_files(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, READ, _list)


@get("/v1/files/{file_id:str}", summary="Describe a file")
async def get_file(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, READ, _describe)


@get("/v1/files/{file_id:str}/content", summary="Read a file's content (a batch's input, output or errors)")
async def file_content(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, READ, _content)


@delete("/v1/files/{file_id:str}", status_code=200, summary="Delete a file")
async def delete_file(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, DROP, _delete)


ROUTES = [upload_file, list_files, get_file, file_content, delete_file]
