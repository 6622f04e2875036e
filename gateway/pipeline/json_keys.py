"""Duplicate keys in one JSON object: ``{"input": "a", "input": "536-90-4721"}`` is refused, never read.

RFC 8259 leaves a repeated name's meaning to the reader: msgspec, Python's ``json`` and most servers keep the last
value, some proxies, WAFs and log pipelines the first. A gateway that screens and audits what it embeds must not
let its reading and theirs differ, so a body (or a batch file's line) with a key given twice in one object is a 400.

The check is linear and costs little on the usual body: every key of the text ends with a ``"`` followed by
optional whitespace and ``:``, so the count of those (one regular expression pass in C) bounds the number of keys
from above, and the keys of the decoded objects (a walk over containers only) bound it from below. When the two
counts agree, no key was dropped; otherwise (a duplicate, or ``":`` inside a string value) Python's own parser
reads the text again, with a hook that sees every object's pairs before any is dropped, to say which key; if that
reading fails (nesting at the recursion limit, which msgspec reached two frames higher), the body is refused.
"""

from __future__ import annotations

import json
import re
from typing import Any

from gateway.errors import BadRequest

_KEY_END = re.compile(rb'"[ \t\r\n]*:')
_KEY_END_TEXT = re.compile(r'"[ \t\r\n]*:')
_SHOWN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")  # field-like names only: no digits-and-dashes, no e-mails


class _Repeated(Exception):
    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key


def _pairs(pairs: list[tuple[str, Any]]) -> None:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _Repeated(key)
        seen.add(key)
    # None, not the object: only the keys matter here, and nothing of the text is kept.


def _decoded_keys(decoded: Any) -> int:
    count, stack = 0, [decoded]
    while stack:
        item = stack.pop()
        values = item.values() if type(item) is dict else item
        if type(item) is dict:
            count += len(item)
        stack.extend([v for v in values if type(v) is dict or type(v) is list])
    return count


def repeated_key(raw: bytes | str, decoded: Any) -> str | None:
    """The first key given twice in one object of ``raw`` (valid JSON that decoded to ``decoded``), or None.
    ``BadRequest`` when the counts differ and the second reading fails (nesting at the recursion limit)."""
    if type(decoded) is not dict and type(decoded) is not list:
        return None
    ends = _KEY_END.findall(raw) if isinstance(raw, bytes) else _KEY_END_TEXT.findall(raw)
    if len(ends) == _decoded_keys(decoded):
        return None
    try:
        json.loads(raw, object_pairs_hook=_pairs)
    except _Repeated as found:
        return found.key
    except (ValueError, RecursionError):  # fail closed: a key the second reading cannot see may be a duplicate
        raise BadRequest("the request body could not be checked for repeated keys (it is nested too deeply)") from None
    return None


def refuse_repeated_keys(raw: bytes | str, decoded: Any, what: str = "the request body") -> None:
    """Raise ``BadRequest`` when ``raw`` gives a key twice in one object. The key is named only when it looks like
    a field name (``input``, ``metadata``); any other (a metadata key may be text) is "a key", never echoed."""
    key = repeated_key(raw, decoded)
    if key is None:
        return
    shown = key if _SHOWN.fullmatch(key) else None
    named = f"the key '{shown}'" if shown is not None else "a key"
    raise BadRequest(f"{what} gives {named} more than once in one object; give each key once (a proxy, a log "
                     "and the gateway could read different values)", param=shown)
