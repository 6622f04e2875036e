"""Evasion variants of a structured identifier, shared by the quality sets (our own and the public one)."""

from __future__ import annotations

import random

EVASIONS = ("zero_width", "fullwidth", "arabic_indic", "homoglyph", "spaces", "dots", "line_break")
DIGIT_ONLY = ("spaces", "dots", "fullwidth", "arabic_indic")  # no effect on an e-mail address


def evade(value: str, how: str, rng: random.Random) -> str:
    """``value`` rendered with one evasion class (see EVASIONS)."""
    if how == "zero_width":
        i = rng.randint(1, len(value) - 1)
        return value[:i] + "\u200b" + value[i:]
    if how == "fullwidth":
        return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in value)
    if how == "arabic_indic":
        return "".join(chr(0x0660 + int(c)) if c.isdigit() else c for c in value)
    if how == "homoglyph":
        return value.translate(str.maketrans({"o": "\u043e", "e": "\u0435", "a": "\u0430", "0": "\u041e"}))
    groups = value.replace("-", " ").replace(".", " ").split()
    if len(groups) == 1 and value.isalnum() and len(value) > 8:  # an unseparated number: re-separate it
        groups = [value[i : i + 4] for i in range(0, len(value), 4)]
    if how == "spaces":
        return " ".join(groups) if len(groups) > 1 else value
    if how == "dots":
        return ".".join(groups) if len(groups) > 1 and "@" not in value else value
    cut = len(value) // 2  # line_break: an identifier split across lines
    return value[:cut] + "\n" + value[cut:]


def pick(etype: str, i: int) -> str:
    """The i-th evasion class for an entity type (digit-only tricks swapped for an e-mail address)."""
    how = EVASIONS[i % len(EVASIONS)]
    if etype == "EMAIL_ADDRESS" and how in DIGIT_ONLY:
        how = "homoglyph" if how in ("spaces", "fullwidth") else "zero_width"
    return how
