"""A long case-insensitive alternation of cue words, grouped by first character so that ``re`` tries few of them.

``re`` tries the alternatives of ``(?:a|b|...)`` one after another at every position it reaches; with about a
hundred cue words ("my name is", "dear", "met with", ...) before each name pattern, that was half of the name
cues' cost (74 of ~300 us a pydoc sentence on AMD EPYC; 21 with this grouping for the weak cues, 42 for the strong).
``by_first_character`` returns ``(?:(?=a)(?:alternatives starting with a)|(?=b)(?:...)|...)``: at a position only
the group of the character there can match, and within it the alternatives keep their order, so what matches,
and which alternative wins, is exactly what the plain alternation gives. An alternative whose first characters
cannot be read from its syntax tree (one that may match nothing, or starts with a category such as ``\\w``) makes
the plain alternation the result.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from typing import Any

with warnings.catch_warnings():  # deprecated as a public module since 3.11; typeshed types it, re._parser not
    warnings.simplefilter("ignore", DeprecationWarning)
    import sre_constants as c
    import sre_parse

_RANGE_LIMIT = 64  # a wider class range makes the alternative unreadable here


def by_first_character(alternatives: Sequence[str]) -> str:
    """A non-capturing group matching what ``(?:alternatives)`` matches, case-insensitively (to be used under
    ``(?i:...)``), in the same order of preference."""
    groups: dict[str, list[str]] = {}
    for alternative in alternatives:
        firsts = first_characters(alternative)
        if firsts is None:
            return "(?:" + "|".join(alternatives) + ")"
        for ch in sorted(firsts):
            groups.setdefault(ch, []).append(alternative)
    return "(?:" + "|".join(f"(?={re.escape(ch)})(?:{'|'.join(group)})" for ch, group in groups.items()) + ")"


def first_characters(pattern: str) -> set[str] | None:
    """The lower-cased characters a case-insensitive match of ``pattern`` can start with; None when that cannot
    be read (or the pattern can match the empty string)."""
    try:
        parsed = sre_parse.parse(pattern, re.IGNORECASE)
    except re.error:
        return None
    found, nullable = _firsts(parsed.data)
    if found is None or nullable or not all(_distinct(ch) for ch in found):
        return None
    return found


def _distinct(ch: str) -> bool:
    """Whether no other group's character can match what ``ch`` matches case-insensitively: ASCII (whose letters'
    Unicode look-alikes, such as the Kelvin sign, fold to one letter only) or a character without case."""
    return len(ch) == 1 and (ch.isascii() or ch.lower() == ch.upper())


def _firsts(items: list[tuple[Any, Any]]) -> tuple[set[str] | None, bool]:
    """(first characters, whether the sequence can match nothing) of a parsed sequence."""
    out: set[str] = set()
    for op, av in items:
        found, nullable = _item(op, av)
        if found is None:
            return None, True
        out |= found
        if not nullable:
            return out, False
    return out, True


def _item(op: Any, av: Any) -> tuple[set[str] | None, bool]:
    if op is c.LITERAL:
        return {chr(av).lower()}, False
    if op is c.IN:
        return _class(av), False
    if op is c.SUBPATTERN:
        return _firsts(av[-1].data)
    if op is c.BRANCH:
        out: set[str] = set()
        nullable = False
        for alternative in av[1]:
            found, empty = _firsts(alternative.data)
            if found is None:
                return None, True
            out |= found
            nullable = nullable or empty
        return out, nullable
    if op in (c.MAX_REPEAT, c.MIN_REPEAT):
        found, nullable = _firsts(av[2].data)
        return found, nullable or av[0] == 0
    return None, True  # anything else (an anchor, a lookaround, a category, any character): not read


def _class(members: list[tuple[Any, Any]]) -> set[str] | None:
    out: set[str] = set()
    for op, av in members:
        if op is c.LITERAL:
            out.add(chr(av).lower())
        elif op is c.RANGE and av[1] - av[0] <= _RANGE_LIMIT:
            out |= {chr(ch).lower() for ch in range(av[0], av[1] + 1)}
        else:
            return None
    return out
