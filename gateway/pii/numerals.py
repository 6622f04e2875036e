"""Digits written one sign each in numerals that are no digits to Unicode, read as digits where they form a number.

Han numerals (U+3007 and ``一 二 ... 九``, ``零``, the financial forms
``壹 贰 貳 叁 參 叄 肆 伍 陆 陸 柒 捌 玖``), the Roman numeral characters U+2160-U+2168 and
U+2170-U+2178 (one to nine), and the parenthesized digits ``⑴``-``⒇`` (NFKC writes them ``(4)``, ``(12)``) have a
numeric value but no digit value, so a card or an SSN written one such sign per digit was not read as a number
(session 13's outside attack). A reader reads them as digits only where they stand for digits: in a run of them
long enough to be an identifier.

* ``numeral_edits`` (the detection view's first pass): in a run of numerals, parenthesized digits and digits, any
  run of separators (`` \\t.-/_:|,``) apart, holding seven digits or more (the spelled numbers' minimum) and two
  numerals or more, of which two touch or which make half its digits or more, every numeral becomes its digit and
  every parenthesized number its digits. ``第三章``, ``一个``, ``Chapter Ⅳ``, ``(1) 555-0100 (2) 555-0199`` stay.
* ``kept_roman``: NFKC writes ``ⅤⅢⅥ`` as ``VIIIVI``, which no reader can split again. ``normalize`` leaves the Roman
  numerals of such a run (seven digits or more, two Roman numerals or more) as written, so the view can read them;
  any other (``Chapter Ⅳ``, ``ⅡⅢ``) becomes NFKC's letters as before.

The run is matched by one possessive pattern, each item at least one character, so the scan is linear.
"""

from __future__ import annotations

import itertools
import re

Edit = tuple[int, int, str]

_HAN = {"\u3007": 0, "零": 0, "一": 1, "壹": 1, "二": 2, "贰": 2, "貳": 2, "三": 3, "叁": 3, "參": 3, "叄": 3, "四": 4,
        "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "陸": 6, "七": 7, "柒": 7, "八": 8, "捌": 8, "九": 9,
        "玖": 9}  # fmt: skip
ROMAN = {chr(0x2160 + i): i + 1 for i in range(9)} | {chr(0x2170 + i): i + 1 for i in range(9)}
NUMERALS = {ch: str(v) for ch, v in (_HAN | ROMAN).items()}
ROMAN_CHAR = re.compile("[\u2160-\u2168\u2170-\u2178]")
_MIN_DIGITS = 7
_NUMERAL = "[" + "".join(NUMERALS) + "]"
_PARENTHESIZED = r"\([0-9]{1,2}\)"
_ONE = rf"(?:{_NUMERAL}|{_PARENTHESIZED}|\d)"  # one item of a run: a numeral, a parenthesized number, a digit
_ITEM = re.compile(_ONE)
RUN = re.compile(rf"{_ONE}(?:[ \t.\-/_:|,]*+{_ONE})*+")


def _digits(item: str) -> str:
    return NUMERALS.get(item) or item.strip("()")


def _digit_count(items: list[str]) -> int:
    """How many digits the items of a run stand for (``(12)`` stands for two)."""
    return sum(len(_digits(item)) for item in items)


def numeral_edits(text: str) -> list[Edit]:
    """Numerals and parenthesized digits as digits, in runs that read as one number (see the module docstring)."""
    if text.isascii() and "(" not in text:
        return []
    edits: list[Edit] = []
    for m in RUN.finditer(text):
        items = [(m.start() + i.start(), m.start() + i.end(), i.group()) for i in _ITEM.finditer(m.group())]
        signs = [(s, e, t) for s, e, t in items if not t.isdigit()]
        total = _digit_count([t for _, _, t in items])
        if len(signs) < 2 or total < _MIN_DIGITS:
            continue
        touching = any(a[1] == b[0] for a, b in itertools.pairwise(signs))
        if touching or 2 * _digit_count([t for _, _, t in signs]) >= total:
            edits.extend((s, e, _digits(t)) for s, e, t in signs)
    return edits


def kept_roman(text: str) -> list[int]:
    """Where ``text`` (NFKC but for its Roman numerals) has Roman numerals that ``normalize`` keeps as written."""
    kept: list[int] = []
    for m in RUN.finditer(text):
        romans = [m.start() + r.start() for r in ROMAN_CHAR.finditer(m.group())]
        if len(romans) >= 2 and _digit_count(_ITEM.findall(m.group())) >= _MIN_DIGITS:
            kept.extend(romans)
    return kept
