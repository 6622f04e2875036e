"""Unambiguous byte encoding of several strings, for associated data and key-derivation info.

Each part is prefixed with its length (uint32, big-endian), so ("ab", "c") and ("a", "bc") never encode alike:
without it a record of tenant "ab" in collection "c" could be opened as tenant "a", collection "bc".
"""

from __future__ import annotations

import struct

_LENGTH = struct.Struct(">I")


def length_prefixed(*parts: str | bytes) -> bytes:
    """Concatenate ``parts`` (strings as UTF-8), each preceded by its length."""
    out = bytearray()
    for part in parts:
        raw = part.encode("utf-8") if isinstance(part, str) else part
        out += _LENGTH.pack(len(raw))
        out += raw
    return bytes(out)
