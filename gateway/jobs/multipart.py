"""The ``multipart/form-data`` body of an upload, parsed in one pass off the event loop (``FileVault.upload_form``).

A file of up to ``files_max_bytes`` (100 MB) is found with ``bytes.find`` and copied once; a streaming parser on the
event loop (a Python call per chunk, a spooled temporary file written and read back) stalled other tenants.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from gateway.errors import BadRequest

_BOUNDARY = re.compile(r'boundary=(?:"([^"]{1,200})"|([^\s;,]{1,200}))', re.IGNORECASE)
# A quoted-string (RFC 9110): a backslash escapes the next character, as in filename="a\"b.jsonl".
_PARAM = re.compile(rb'\b(name|filename)="((?:[^"\\]|\\.)*)"', re.IGNORECASE)
_ESCAPED = re.compile(rb"\\(.)")
_NOT_MULTIPART = "the body must be multipart/form-data with the fields 'file' and 'purpose'"


@dataclass(frozen=True)
class Form:
    fields: dict[str, str]
    filename: str | None  # None: no part named 'file' with a file name
    content: bytes


def _disposition(head: bytes | bytearray) -> bytes:
    """A part's Content-Disposition header: its ``name`` and ``filename`` are read there only (read from every
    header line, an ``X-Note: name="file"`` line made a part named otherwise the upload's file)."""
    for line in bytes(head).split(b"\r\n"):
        if line[:20].lower() == b"content-disposition:":
            return line
    return b""


def parse_form(content_type: str, body: bytes | bytearray) -> Form:
    found = _BOUNDARY.search(content_type)
    if not content_type.lower().startswith("multipart/form-data") or found is None:
        raise BadRequest(_NOT_MULTIPART)
    delimiter = b"--" + (found.group(1) or found.group(2)).encode("latin-1")
    fields: dict[str, str] = {}
    filename: str | None = None
    content = b""
    seen: set[str] = set()
    at = body.find(delimiter)
    if at < 0:
        raise BadRequest(_NOT_MULTIPART)
    at += len(delimiter)
    while not body.startswith(b"--", at):
        head_end = body.find(b"\r\n\r\n", at)
        end = body.find(b"\r\n" + delimiter, head_end + 4) if head_end >= 0 else -1
        if end < 0:
            raise BadRequest(_NOT_MULTIPART)
        params = {k.lower(): _ESCAPED.sub(rb"\1", v) for k, v in _PARAM.findall(_disposition(body[at:head_end]))}
        name = params.get(b"name", b"").decode("utf-8", "replace")
        if name in seen:  # an ambiguous form: which part is meant is not guessed
            raise BadRequest(f"the form has more than one part named {name!r}", param=name)
        seen.add(name)
        if name == "file" and b"filename" in params:
            filename = params[b"filename"].decode("utf-8", "replace")
            # Cf too: a bidi override shows 'invoice\u202egnp.jsonl' as 'invoicelnosj.png' to every reader
            if any(unicodedata.category(c) in ("Cc", "Cf") for c in filename):
                raise BadRequest("the file name must not contain control characters or invisible formatting ones "
                                 "(bidi overrides, zero-width characters)", param="file")
            content = bytes(memoryview(body)[head_end + 4:end])
        elif name and end - head_end < 4096:
            fields[name] = bytes(body[head_end + 4:end]).decode("utf-8", "replace")
        at = end + 2 + len(delimiter)
    return Form(fields, filename, content)
