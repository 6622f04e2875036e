"""OpenAI's Files API for batches: ``/v1/files`` upload (multipart, ``purpose=batch``), describe, content, delete,
list. Contents are sealed under the tenant's data key (``gateway.jobs.files``); another tenant's file is 404."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, post
from litestar.datastructures import UploadFile

from gateway.bootstrap import Services
from gateway.errors import BadRequest, PayloadTooLarge
from gateway.http.guard import Call, Guard, Reply, governed

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
    if not raw.isdigit() or not 1 <= int(raw) <= most:
        raise BadRequest(f"'limit' must be a whole number from 1 to {most}", param="limit")
    return int(raw), call.request.query_params.get("after") or None


async def _upload(call: Call) -> Reply:
    limit = call.services.files.max_bytes
    declared = call.request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + MULTIPART_SLACK:
        raise PayloadTooLarge(f"the upload of {declared} bytes exceeds the file limit of {limit} bytes")
    try:
        form = await call.request.form()
    except Exception:
        raise BadRequest("the body must be multipart/form-data with the fields 'file' and 'purpose'") from None
    purpose, upload = form.get("purpose"), form.get("file")
    if purpose != "batch":
        raise BadRequest("'purpose' must be 'batch': files here are the input of batches", param="purpose")
    if not isinstance(upload, UploadFile):
        raise BadRequest("'file' is required: the batch's input, JSON Lines", param="file")
    name = (upload.filename or "input.jsonl")[:MAX_FILENAME_CHARS]
    await call.services.batches.screen_filename(call.principal, name)  # shown to every reader: never with PII
    content = await upload.read()
    info = await call.services.files.upload(call.principal.tenant, purpose, name, content)
    return Reply(info.openai(), audit={"file_id": info.id, "bytes": info.bytes, "purpose": purpose})


async def _describe(call: Call) -> Reply:
    info = await call.services.files.describe(call.principal.tenant, _file_id(call))
    return Reply(info.openai(), audit={"file_id": info.id, "what": "file"})


async def _content(call: Call) -> Reply:
    content = await call.services.files.content(call.principal.tenant, _file_id(call))
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
