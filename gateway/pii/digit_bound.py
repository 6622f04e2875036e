"""Which recognizers can find nothing in a text without a digit, so that such a text skips them.

Most texts screened hold no digit (prose), and most pattern recognizers look for numbers: SSNs, cards, IBANs,
phone numbers, dates. Presidio runs every recognizer asked for on every text, and its per-call work (a match loop
per pattern, result bookkeeping, context enhancement) was about a third of the PII stage's CPU per text on
pydoc sentences. A recognizer is skipped on a text only when it provably finds nothing there:

- a Presidio ``PatternRecognizer`` whose results come from its patterns alone (its ``analyze`` is Presidio's, or
  the class says ``RESULTS_FROM_PATTERNS``: it only filters, trims or rescores what its patterns matched, or
  matches them again on parts of the text), and every pattern of which cannot match without a digit, read from
  the pattern's syntax tree (``requires_digit``);
- a recognizer that says ``NEEDS_DIGIT`` (libphonenumber's matcher: its candidates hold digits).

Everything else (a pattern this module cannot read, a recognizer of another kind, the policy's own recognizers
written for the ``regex`` module's extra syntax) always runs. A digit is anything ``str.isdigit`` accepts or the
``regex`` module's ``\\d`` matches (``has_digit``), which includes every character ``\\d`` and ``[0-9]`` match; other
evasions (number words, letters for digits) are read as digits by the detection view and its readings before any
recognizer runs (``normalize``, ``readings``), and each reading is tested on its own text.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

from presidio_analyzer import EntityRecognizer, PatternRecognizer

from gateway.pii.digits import DIGIT

with warnings.catch_warnings():  # deprecated as a public module since 3.11; typeshed types it, re._parser not
    warnings.simplefilter("ignore", DeprecationWarning)
    import sre_constants as c
    import sre_parse

# Syntax of the ``regex`` module that ``re`` would read differently or not at all (fuzzy matching, version-1 set
# operations, Unicode properties): such a pattern is not judged, so its recognizer always runs.
_FOREIGN = re.compile(r"\{[eisd]|\(\?[a-zA-Z]*V1|\\[pPXN]|\[\[|--|&&|~~|\|\|")
_REPEATS = (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", c.MAX_REPEAT))
_RANGE_LIMIT = 4096  # a class range wider than this is not enumerated (and so not judged all digits)


def has_digit(text: str) -> bool:
    """Whether ``text`` holds a character that a digit-bound recognizer could need: one that ``str.isdigit`` accepts
    or that ``\\d`` matches in the ``regex`` module Presidio matches with."""
    return DIGIT.search(text) is not None  # gateway.pii.digits: regex's tables, newer than isdigit's


def requires_digit(pattern: str, flags: int = 0) -> bool:
    """Whether every match of ``pattern`` holds a digit (False when that cannot be read from its syntax)."""
    if _FOREIGN.search(pattern):
        return False
    try:
        parsed = sre_parse.parse(pattern, flags)
    except (re.error, OverflowError, RecursionError):
        return False
    return _sequence(parsed.data)


def needs_digit(recognizer: EntityRecognizer) -> bool:
    """Whether ``recognizer`` finds nothing in a text without a digit (see the module docstring)."""
    declared = getattr(recognizer, "NEEDS_DIGIT", None)
    if declared is not None:
        return bool(declared)
    if not isinstance(recognizer, PatternRecognizer):
        return False
    from_patterns = type(recognizer).analyze is PatternRecognizer.analyze or bool(
        getattr(recognizer, "RESULTS_FROM_PATTERNS", False)
    )
    patterns: list[Any] = getattr(recognizer, "patterns", None) or []
    return from_patterns and bool(patterns) and all(requires_digit(p.regex) for p in patterns)


def _sequence(items: list[tuple[Any, Any]]) -> bool:
    return any(_item(op, av) for op, av in items)


def _item(op: Any, av: Any) -> bool:
    if op is c.LITERAL:
        return chr(av).isdigit()
    if op is c.IN:
        return _all_digits(av)
    if op in _REPEATS:
        low, _high, sub = av
        return bool(low >= 1 and _sequence(list(sub)))
    if op is c.SUBPATTERN:
        return _sequence(list(av[-1]))
    if op is getattr(c, "ATOMIC_GROUP", None):
        return _sequence(list(av))
    if op is c.BRANCH:
        return all(_sequence(list(alternative)) for alternative in av[1])
    if op is c.ASSERT:  # a lookaround that must match: what it needs, the text holds
        return _sequence(list(av[1]))
    return False  # anything else (any character, a back reference, a conditional, an anchor): no digit required


def _all_digits(members: list[tuple[Any, Any]]) -> bool:
    """Whether a character class admits digits only."""
    if not members:
        return False
    for op, av in members:
        if op is c.LITERAL:
            if not chr(av).isdigit():
                return False
        elif op is c.RANGE:
            low, high = av
            if high - low > _RANGE_LIMIT or not all(chr(ch).isdigit() for ch in range(low, high + 1)):
                return False
        elif op is c.CATEGORY:
            if av is not c.CATEGORY_DIGIT:
                return False
        else:  # a negated class, or anything not read above
            return False
    return True
