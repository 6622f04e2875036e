"""The lines of OpenAI's batch files: validating an input file, and writing output and error lines.

An input file is JSON Lines (UTF-8, a byte order mark ignored; LF or CRLF), one request per line::

    {"custom_id": "doc-1", "method": "POST", "url": "/v1/embeddings", "body": {"model": ..., "input": ...}}

Validation checks the file as a whole before any line runs (OpenAI's ``errors`` list, at most ``MAX_ERRORS``
reported): JSON (a key given twice in one object is ``duplicate_key``), the fields, ``url`` equal to the batch's
endpoint, unique ``custom_id``, the line limit, each body within ``max_body_bytes``, the inputs of all lines
together within the limit (``Batches.create`` adds a ``custom_id`` carrying PII). The rest of each body is checked
when it runs, like the body of ``POST /v1/embeddings`` (a bad body is that line's 400).
An output line holds ``custom_id``, ``response.status_code``, ``response.request_id``, ``response.body`` and
``error`` (null): lines answered 200 go to the output file, every other to the error file.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import msgspec

from gateway.errors import BadRequest, BatchExpired, RequestError
from gateway.pipeline.json_keys import refuse_repeated_keys

ENDPOINT = "/v1/embeddings"
MAX_ERRORS = 20
MAX_CUSTOM_ID_CHARS = 512


@dataclass(frozen=True)
class BatchLine:
    custom_id: str
    body: Any
    line: int = 0  # its line number in the input file, for validation errors


def parse_input(content: bytes | Iterable[bytes], max_lines: int, max_body_bytes: int | None = None,
                max_inputs: int | None = None, keep_bodies: bool = True,
                ) -> tuple[list[BatchLine], list[dict[str, Any]]]:
    """The lines, and OpenAI's validation errors (empty when the file is valid). ``content``: the file, or its
    chunks as they are opened (never joined: a line is read, checked and dropped before the next). ``max_body_bytes``:
    a line's body is held to the limit of a ``POST /v1/embeddings`` body; ``max_inputs``: the texts of all lines
    together (each becomes a vector of the output file, about 8 KB as JSON floats, held in memory while the file is
    written). ``keep_bodies`` False (a batch's creation, which needs only the ids): each line's ``body`` is None, so
    validation holds the ids, never the decoded file."""
    errors: list[dict[str, Any]] = []
    lines: list[BatchLine] = []
    seen: set[str] = set()
    inputs = read = 0

    def fail(line: int | None, code: str, message: str, param: str | None = None) -> None:
        if len(errors) < MAX_ERRORS:
            errors.append({"code": code, "message": message, "param": param, "line": line})

    try:
        for n, raw in _lines([content] if isinstance(content, bytes) else content):
            if read == max_lines:
                return [], [{"code": "too_many_lines", "message": f"the input file has more than {max_lines} "
                             f"requests; the limit is {max_lines}", "param": None, "line": None}]
            read += 1
            line = _line(n, raw, seen, max_body_bytes, fail)
            if line is not None:
                inputs += _inputs(line.body)
                lines.append(line if keep_bodies else BatchLine(line.custom_id, None, n))
    except UnicodeDecodeError:
        return [], [{"code": "invalid_file_encoding", "message": "the input file is not UTF-8 text", "param": None,
                     "line": None}]
    if not read:
        fail(None, "empty_file", "the input file has no requests")
    if max_inputs is not None and inputs > max_inputs:
        fail(None, "too_many_inputs", f"the input file's requests hold {inputs} inputs in all; the limit is "
             f"{max_inputs} (batch_max_lines) across the batch")
    return lines, errors


def _line(n: int, raw: str, seen: set[str], max_body_bytes: int | None,
          fail: Callable[[int | None, str, str, str | None], None]) -> BatchLine | None:
    """Line ``n`` as a request, or None after ``fail`` said why not."""
    try:
        obj = msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        fail(n, "invalid_json_line", f"line {n} is not valid JSON", None)
        return None
    if not isinstance(obj, dict):
        fail(n, "invalid_json_line", f"line {n} is not a JSON object", None)
        return None
    try:
        refuse_repeated_keys(raw, obj, f"line {n}")
    except BadRequest as exc:
        fail(n, "duplicate_key", exc.message, exc.param)
        return None
    custom_id = obj.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id or len(custom_id) > MAX_CUSTOM_ID_CHARS:
        fail(n, "missing_required_parameter", f"line {n}: 'custom_id' must be a string of 1 to "
             f"{MAX_CUSTOM_ID_CHARS} characters", "custom_id")
        return None
    if custom_id in seen:
        fail(n, "duplicate_custom_id", f"line {n}: a custom_id appears more than once", "custom_id")
        return None
    seen.add(custom_id)
    if obj.get("method", "POST") != "POST":
        fail(n, "invalid_method", f"line {n}: 'method' must be POST", "method")
    elif obj.get("url") != ENDPOINT:
        fail(n, "invalid_url", f"line {n}: 'url' must be {ENDPOINT}, the batch's endpoint", "url")
    elif not isinstance(obj.get("body"), dict):
        fail(n, "missing_required_parameter", f"line {n}: 'body' must be a JSON object", "body")
    elif (max_body_bytes is not None and len(raw) > max_body_bytes // 4  # cheap: chars <= bytes <= 4 * chars
          and len(msgspec.json.encode(obj["body"])) > max_body_bytes):
        fail(n, "request_too_large", f"line {n}: 'body' is larger than the request limit of {max_body_bytes} "
             "bytes (max_body_bytes)", "body")
    else:
        return BatchLine(custom_id, obj["body"], n)
    return None


def _inputs(body: dict[str, Any]) -> int:
    """How many vectors a line asks for: its ``input`` list's length, else one (a bad body is one 400 line)."""
    given = body.get("input")
    return len(given) if isinstance(given, list) else 1


def _split(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The content's lines, each with its LF, across chunk boundaries: a chunk's lines are cut by ``BytesIO`` (in
    C), and only a line that spans chunks is joined from its pieces."""
    pending: list[bytes] = []
    for chunk in chunks:
        for piece in io.BytesIO(chunk):
            if not piece.endswith(b"\n"):  # the chunk's last piece: its line goes on in the next chunk
                pending.append(piece)
                continue
            if pending:
                piece = b"".join((*pending, piece))
                pending = []
            yield piece
    if pending:
        yield b"".join(pending)


def _lines(chunks: Iterable[bytes]) -> Iterator[tuple[int, str]]:
    """The file's non-blank lines with their numbers, read one at a time: a list of every line made 100 MB of
    newlines 100 million lines, 1.5 GB, at each batch's creation. A line ends at LF (a CR before it dropped), never
    at the other breaks ``str.splitlines`` knows (U+2028, U+2029, U+0085, VT, FF, FS, GS, RS), which JSON allows
    unescaped inside a string; a byte order mark before the first is ignored (RFC 8259, 8.1). ``UnicodeDecodeError``
    at the first line that is not UTF-8."""
    for n, raw in enumerate(_split(chunks), start=1):
        if raw.isspace():
            continue
        text = raw.decode("utf-8-sig" if n == 1 else "utf-8").removesuffix("\n").removesuffix("\r")
        if text.strip():
            yield n, text


def request_id(batch_id: str, index: int) -> str:
    return "batch_req_" + hashlib.sha256(f"{batch_id}/{index}".encode()).hexdigest()[:24]


def ok_line(batch_id: str, index: int, custom_id: str, body: bytes) -> bytes:
    rid = request_id(batch_id, index)
    return b"".join((b'{"id":', _json(rid), b',"custom_id":', _json(custom_id), b',"response":{"status_code":200,'
                     b'"request_id":', _json(rid), b',"body":', body, b'},"error":null}'))


def error_line(batch_id: str, index: int, custom_id: str, exc: RequestError) -> bytes:
    """A refused line in OpenAI's shape: the response the request would have had (e.g. 422 ``pii_blocked``)."""
    rid = request_id(batch_id, index)
    if isinstance(exc, BatchExpired):  # never sent: OpenAI's shape has no response, only the error
        return _json({"id": rid, "custom_id": custom_id, "response": None,
                      "error": {"code": exc.code, "message": exc.message}})
    body = {"error": {"message": exc.message, "type": exc.error_type, "param": exc.param, "code": exc.code}}
    return _json({"id": rid, "custom_id": custom_id,
                  "response": {"status_code": exc.status, "request_id": rid, "body": body}, "error": None})


_json = msgspec.json.encode
