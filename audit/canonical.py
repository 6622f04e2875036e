"""RFC 8785 (JCS) canonical JSON: the exact bytes of an audit entry, hence of its Merkle leaf."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import rfc8785


def canonical_json(obj: Any) -> bytes:
    """Serialize ``obj`` canonically, so that the same entry always hashes to the same leaf."""
    return bytes(rfc8785.dumps(obj))


def is_canonical_object(data: bytes) -> bool:
    """Whether ``data`` is a JSON object serialized exactly as RFC 8785 would serialize it."""
    try:
        parsed = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return False
    if not isinstance(parsed, Mapping):
        return False
    try:
        return canonical_json(parsed) == data
    except (rfc8785.CanonicalizationError, ValueError, TypeError):
        return False
