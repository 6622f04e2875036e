"""Digits as the ``regex`` module knows them: Presidio matches with it, and its Unicode tables are newer than this
Python's ``unicodedata`` (3.11: Unicode 14). Digits added since (the outlined digits U+1CCF0-U+1CCF9, which look
like 0-9, Kawi's, Garay's and others: 110 characters with regex 2026.12) have no value in ``unicodedata``, so the
detection view did not fold them to ASCII and ``str.isdigit`` rejects them (attack13: an SSN written in outlined
digits was embedded until the view read them through this module)."""

from __future__ import annotations

import unicodedata

import regex

# Numeric types Decimal and Digit in ``regex``'s tables: every ``\d`` match and every ``isdigit`` character.
DIGIT = regex.compile(r"[\p{Numeric_Type=Decimal}\p{Numeric_Type=Digit}]")
_VALUE = [regex.compile(rf"\p{{Numeric_Value={k}}}") for k in range(10)]


def digit_value(ch: str) -> int | None:
    """The digit ``ch`` stands for (0-9), from ``unicodedata`` or else from ``regex``'s newer tables; None if none."""
    value = unicodedata.digit(ch, None)
    if value is not None or DIGIT.fullmatch(ch) is None:
        return value
    return next((k for k, pattern in enumerate(_VALUE) if pattern.fullmatch(ch)), None)
