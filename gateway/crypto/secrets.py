"""Secret values that never print.

A key that reaches a log line, a traceback or an error message is a leaked key. Wrapping it makes the
accidental paths (``repr``, ``str``, f-strings, ``logging`` with ``%s``) safe; reading the value
takes an explicit ``get_secret()`` call that a reviewer can grep for. Modelled on litestar's ``SecretBytes``.
"""

from __future__ import annotations

import hmac

_MASK = "SecretBytes('**********')"


class SecretBytes:
    """Bytes whose ``repr`` and ``str`` are a fixed mask; equality is constant-time."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes | bytearray) -> None:
        if not isinstance(value, bytes | bytearray):
            raise TypeError("SecretBytes wraps bytes")
        self._value = bytes(value)

    def get_secret(self) -> bytes:
        """The wrapped value. Every call site is a place where the secret is handled on purpose."""
        return self._value

    def __repr__(self) -> str:
        return _MASK

    def __str__(self) -> str:
        return _MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretBytes):
            return NotImplemented
        return hmac.compare_digest(self._value, other._value)

    # Defining __eq__ leaves __hash__ = None: a secret must not be a dict key whose hash could be observed.
