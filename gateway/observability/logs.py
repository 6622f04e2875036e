"""Structured JSON logs: one object per line, with the request id, and nothing that could be a secret or PII.

Log calls in this code base pass values as ``%s`` arguments; third-party libraries may not. So the formatter never
trusts a value: it scrubs the message template and keeps each argument only if it is a number, a boolean, or a
short name-like string (letters, digits and ``_.:/-``; few digits; not an API key). Anything else becomes
``<str len=N>``. Exceptions are reduced to their type and frames (file, line, function): exception messages can quote
input, so they are never written. Two wrappers let a call site vouch for a string. A ``Vetted`` string is a message
this code base builds only from positions and names (a policy file's line and key, never a value from it), written
after the scrubber, so an operator learns why a policy reload was refused. A ``VettedName`` is a value safe by
construction that the scrubber would mangle (a policy version, which is a content hash; a model name and version
from the registry; a forward mode; a device; fixed measure names): written verbatim, but only while it is shaped
like a name (no spaces, no ``@``, at most 100 characters, no API key), else it is treated as any string.

The message is the template filled with the arguments *as written* in ``args`` (shapes included), so it shows
nothing the line did not already show. Every field is listed in ``docs/observability.md``.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import traceback
from datetime import UTC, datetime
from typing import IO, Any

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("gateway_request_id", default=None)

_NAME_LIKE = re.compile(r"^[A-Za-z0-9_.:/\-]{1,80}\Z")
_SCRUB = (
    re.compile(r"gk_[A-Za-z0-9_\-]+"),  # API keys: gk_<key id>_<secret>
    # Anchored at a run's start and possessive: unanchored, it was quadratic on a long run without an "@".
    re.compile(r"(?<![^\s@])[^\s@]++@[^\s@]+"),  # e-mail addresses, user@host
    re.compile(r"\d[\d\s\-./]{4,}\d"),  # digit runs: card, SSN, phone, account numbers, dates
    re.compile(r"[A-Za-z0-9+/_\-]{24,}={0,2}"),  # long tokens: secrets, base64, hex digests
)
_MAX_DIGITS = 4
_VETTED_NAME = re.compile(r"^[A-Za-z0-9_.:/+,\-]{1,100}\Z")
_VETTED_SOURCE = re.compile(r"^/?(?:[A-Za-z0-9_.\-]+/)*[A-Za-z0-9_.\-]+\.(?:yaml|yml|csv|conf)(?::\d+)?:")


class Vetted(str):
    """A message built only from positions and names (see the module docstring); logged scrubbed, not as a shape."""


class VettedName(str):
    """A value safe by construction (see the module docstring); logged verbatim while it is shaped like a name."""


def scrub(text: str) -> str:
    """Replace anything shaped like a key, address, number or token in a message template."""
    for pattern in _SCRUB:
        text = pattern.sub("<redacted>", text)
    return text


def safe_value(value: Any) -> Any:
    """A log argument as it may be written: numbers and booleans as they are, name-like strings, else a shape."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Vetted):
        # The policy file it names is kept whole: "/etc/gateway/policy/gateway.yaml" is a long token to the scrubber,
        # and the reason came out as "<redacted>.yaml:12: ..." wherever the policy dir is an absolute path.
        source = _VETTED_SOURCE.match(value)
        if source and not _SCRUB[0].search(source.group(0)):
            return source.group(0) + scrub(value[source.end():])
        return scrub(value)
    if isinstance(value, VettedName) and _VETTED_NAME.match(value) and not _SCRUB[0].search(value):
        return str(value)
    if isinstance(value, str):
        if (
            _NAME_LIKE.match(value)
            and sum(c.isdigit() for c in value) <= _MAX_DIGITS
            and scrub(value) == value
        ):
            return value
        return f"<str len={len(value)}>"
    if isinstance(value, BaseException):
        return type(value).__name__
    return f"<{type(value).__name__}>"


def render(template: str, written: list[Any] | dict[str, Any] | None) -> str:
    """The scrubbed template filled with the arguments as written; the template alone when they do not fit it."""
    message = scrub(template)
    if not written:
        return message
    try:
        return message % (written if isinstance(written, dict) else tuple(written))
    except (TypeError, ValueError, KeyError):  # e.g. ``%d`` given a shape, or a placeholder the scrubber ate
        return message


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", "args", "request_id", "exc_type", "exc_frames"}`` per line."""

    def format(self, record: logging.LogRecord) -> str:
        args = record.args
        written: list[Any] | dict[str, Any] | None = None
        if isinstance(args, tuple) and args:
            written = [safe_value(a) for a in args]
        elif isinstance(args, dict) and args:
            written = {str(k): safe_value(v) for k, v in args.items()}
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": render(str(record.msg), written),
        }
        if written is not None:
            out["args"] = written
        request_id = request_id_var.get()
        if request_id is not None:
            out["request_id"] = request_id
        if record.exc_info and record.exc_info[0] is not None:
            out["exc_type"] = record.exc_info[0].__name__
            tb = record.exc_info[2]
            out["exc_frames"] = [
                f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}:{frame.name}"
                for frame in traceback.extract_tb(tb)
            ][-12:]
        return json.dumps(out, ensure_ascii=True, separators=(",", ":"))


QUIET_LIBRARIES = ("presidio-analyzer", "presidio-anonymizer", "sentence_transformers", "httpx", "faiss.loader")


def configure_logging(level: str = "INFO", stream: IO[str] | None = None) -> logging.Handler:
    """Route every logger (ours, uvicorn's, the libraries') through one JSON handler on stderr."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lib = logging.getLogger(name)
        lib.handlers.clear()
        lib.propagate = True
    # Presidio announces every recognizer it loads, and FAISS every CPU build it could not load (eleven lines that
    # read like errors); our own start-up line says what matters.
    for name in QUIET_LIBRARIES:
        lib = logging.getLogger(name)
        lib.handlers.clear()
        lib.propagate = True
        lib.setLevel(max(logging.WARNING, root.level))
    return handler
