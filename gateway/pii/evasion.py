"""Evasion folded as classes, for the detection view (``gateway.pii.normalize``): edits, never the stored text.

Each function returns edits ``(start, end, replacement)`` on the text it is given; the view applies them and keeps
a map back to canonical offsets, so a finding's span still covers what was written.

* ``unmask_edits``: characters that render as nothing (categories Cf, Mn, Me, the Unicode default-ignorable code
  points, variation selectors, tag characters) are dropped; characters that render as a blank (Zs other than the
  space, Hangul fillers U+115F/U+1160/U+3164/U+FFA0, the Braille blank U+2800) become a space, as a reader sees
  them. Character references, numeric or named (``&#53;``, ``&#x35;``, ``&ndash;``, ``&minus;``, ``&nbsp;``:
  whatever ``html.unescape`` reads them as), are decoded to digits, letters, ``-`` for any dash, a space for any
  blank, or ASCII punctuation; URL escapes of separators (``%2D``, ``%20``) always, of digits when there are
  three or more. Spelled-out numbers (``five three six ...``, ``forty-seven``, ``nineteen``) of seven digits or
  more become digits, grouped where the words were (``five-three-six ninety ...``). Han and Roman numerals and
  parenthesized digits written one per digit (``五三六-九〇-...``, ``(5)(3)(6)-...``) become digits in runs that read
  as one number (``gateway.pii.numerals``).
* ``separator_edits``: in a run of digit groups (nine digits or more, the shortest structured identifier), any
  non-alphanumeric separator run of any length (``/ _ : , + | ~ # *``, tabs, ``,,,,``, `` - - ``) becomes ``-``,
  mixed kinds too (``536/90-4721``, ``536 / 90 - 4721``), except a thousands comma, a time's colon and a
  bracketed area code before a phone number's ten digits (``(536)90-4721`` has an SSN's nine), so amounts and
  timestamps read as written; in an IBAN-like run (a group of capitals and digits) with mixed
  separators, ``.`` and spaces fold as well. A word of capitals at either end is a label, not a group
  (``SSN: 078-05-1120``). A list such as ``12, 7 and 30`` is no run. An identifier glued to a word
  (``ssn536-90-4721``, ``card_4539...``) is split from it, unless the word is one or two capitals (an IBAN's
  country code, a licence's letter). Nine or more single digits one space, ``-`` or ``.`` apart are joined (the
  commonest separator joins, another groups: ``5.3.6.-9.0.-...`` is NFKC's ``⒌⒊⒍-⒐🄀-...``), and so are nine
  digits in three to five groups spaced irregularly (``53 69 04 721``; an SSN's length, not longer: rows of
  spaced numbers would make Luhn-valid cards by chance).
"""

from __future__ import annotations

import html
import itertools
import re
import unicodedata
from collections import Counter
from functools import lru_cache

from gateway.pii import numwords
from gateway.pii.digits import digit_value
from gateway.pii.numerals import numeral_edits

Edit = tuple[int, int, str]

# PropList.txt's Other_Default_Ignorable_Code_Point; with Cf and the variation selectors it makes up
# DerivedCoreProperties' Default_Ignorable_Code_Point (the Unicode standard, section 5.21).
_OTHER_DEFAULT_IGNORABLE = (
    (0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x2065, 0x2065), (0x3164, 0x3164), (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8), (0xE0000, 0xE0000), (0xE0002, 0xE001F), (0xE0080, 0xE00FF), (0xE01F0, 0xE0FFF),
)  # fmt: skip
_VARIATION_SELECTORS = ((0x180B, 0x180D), (0x180F, 0x180F), (0xFE00, 0xFE0F), (0xE0100, 0xE01EF))
# Letters and symbols whose glyph is a blank: the Hangul fillers and the Braille pattern blank.
BLANK_GLYPHS = frozenset({0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800})
INVISIBLE_CATEGORIES = frozenset({"Cf", "Mn", "Me"})
_HIDDEN_CATEGORIES = INVISIBLE_CATEGORIES | {"Zs"}


def is_invisible(codepoint: int) -> bool:
    """Renders as nothing: a format character, a combining mark, or a default-ignorable code point."""
    if unicodedata.category(chr(codepoint)) in INVISIBLE_CATEGORIES:
        return True
    return any(lo <= codepoint <= hi for lo, hi in _OTHER_DEFAULT_IGNORABLE + _VARIATION_SELECTORS)


def is_blank(codepoint: int) -> bool:
    """Renders as an empty space but is not the space: other Zs, the fillers and the Braille blank (Zl and Zp
    are line breaks to ``normalize``)."""
    if codepoint == 0x20:
        return False
    return codepoint in BLANK_GLYPHS or unicodedata.category(chr(codepoint)) == "Zs"


def _class(ranges: list[tuple[int, int]]) -> str:
    return "".join(
        re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}" for lo, hi in ranges
    )


# Planes with assigned characters outside private use (4-13 are unassigned, 15-16 private use).
_ASSIGNED_PLANES = ((0x80, 0x3FFFF), (0xE0000, 0xE0FFF))


@lru_cache(maxsize=1)
def _hidden_run() -> re.Pattern[str]:
    """One character class of every invisible or blank code point, derived from the Unicode data at first use."""
    points = [
        cp for lo, hi in _ASSIGNED_PLANES for cp in range(lo, hi + 1)
        if unicodedata.category(chr(cp)) in _HIDDEN_CATEGORIES and not 0xD800 <= cp <= 0xDFFF
    ]
    points.extend(cp for lo, hi in _OTHER_DEFAULT_IGNORABLE + _VARIATION_SELECTORS for cp in range(lo, hi + 1))
    points.extend(BLANK_GLYPHS)
    ranges: list[tuple[int, int]] = []
    for cp in sorted(set(points)):
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    return re.compile(f"[{_class(ranges)}]+")


# A character reference (numeric, or named and ended by ``;``: ``&ndash;``, ``&minus;``, ``&nbsp;``) or a URL
# escape; bounded, so linear. What a reference stands for is ``html.unescape``'s answer, not a list of our own.
# Escaped again and again (``%2535`` is ``%35`` escaped once more, ``&amp;#53;`` is ``&#53;``): read through every
# layer; possessive, so linear.
_REFERENCE = re.compile(
    r"&(?:amp;)*+(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31}(?=;))?;?"
    r"|%(?:25(?=[0-9A-Fa-f]{2}))*+[0-9A-Fa-f]{2}"
    r"|=[0-9A-F]{2}|\\x[0-9A-Fa-f]{2}"
)
# Escapes of bytes: URL (``%35``), quoted-printable (``=35``) and C or Python string escapes (``\\x35``).
_BYTE_ESCAPES = ("%", "=", "\\")
# Braille digits: the number sign U+283C, then the cells of the letters a to j, which read 1 to 9 and 0 after it
# (a Braille hyphen U+2824 between two numbers is a hyphen).
_BRAILLE_CELLS = "\u2801\u2803\u2809\u2819\u2811\u280b\u281b\u2813\u280a\u281a"
_BRAILLE_NUMBER = re.compile(f"\u283c([{_BRAILLE_CELLS}]++)(\u2824(?=\u283c))?")
_BRAILLE_DIGIT = {cell: str((i + 1) % 10) for i, cell in enumerate(_BRAILLE_CELLS)}
_DECODED_KEEP = frozenset("-. /")


def _decoded(reference: str) -> str | None:
    """What a reference or escape reads as in an identifier: a digit, a letter, ``-`` for a dash or minus, a space
    for blank or line-breaking characters, ASCII punctuation as itself; None for anything else."""
    if reference.startswith(_BYTE_ESCAPES):
        ch = chr(int(reference[-2:], 16))
        if ch.isalpha():  # ``%56`` in ``1234%5698`` is more likely a percent sign than a V
            return None
    else:
        body = reference[1:]
        while body.startswith("amp;") and len(body) > 4:  # ``&amp;#53;``: the ``&`` was escaped once more
            body = body[4:]
        reference = "&" + body
        decoded = html.unescape(reference)
        if decoded == reference or len(decoded) != 1:
            return None
        ch = decoded
    digit = digit_value(ch)
    if digit is not None:
        return str(digit)
    if ch.isspace() or is_blank(ord(ch)):
        return " "
    if unicodedata.category(ch) == "Pd" or ch == "\u2212":
        return "-"
    return ch if ch.isascii() and ch.isprintable() else None


# Markup a reader does not see (the second outside attack: ``<b>536</b>-<i>90</i>-<u>4721</u>``): a tag or a
# comment, bounded so the scan stays linear. Dropped from the view, so the groups it separated meet again.
MARKUP = re.compile(r"<!--[^>]{0,256}?-->|</?[A-Za-z][A-Za-z0-9:-]{0,31}(?:\s[^<>]{0,256})?/?>")
# A ``\u002d`` written out as text, as a JSON or source string would escape it.
_TEXT_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})")


def _layout_edits(text: str) -> list[Edit]:
    """Markup dropped, and ``\\uXXXX`` escapes of digits and separators decoded."""
    edits: list[Edit] = []
    if "<" in text:
        edits.extend((m.start(), m.end(), "") for m in MARKUP.finditer(text))
    if "\\u" in text:
        for m in _TEXT_ESCAPE.finditer(text):
            decoded = _decoded(f"&#x{m.group(1)};")
            if decoded is not None:
                edits.append((m.start(), m.end(), decoded))
    return edits


def unmask_edits(text: str) -> list[Edit]:
    """Edits that drop markup and invisible characters, turn blank glyphs into spaces, decode digit references
    and spelled digits (see the module docstring)."""
    # Where two edits overlap, the view keeps the one that starts first (``normalize.apply_edits``): a tag starts before
    # anything inside it, and no other edit reaches into a tag, so markup is always dropped whole.
    return _layout_edits(text) + _unmask_edits(text)


def _unmask_edits(text: str) -> list[Edit]:
    edits: list[Edit] = []
    if not text.isascii():
        for m in _hidden_run().finditer(text):
            blank = any(is_blank(ord(c)) for c in m.group())  # renders as a space: read as one
            edits.append((m.start(), m.end(), " " if blank else ""))
    if "&" in text or "%" in text or "=" in text or "\\x" in text:
        decoded = [(m, _decoded(m.group())) for m in _REFERENCE.finditer(text) if len(m.group()) > 1]
        # A lone "%32" is more likely a percent sign before digits than an escape: byte escapes of letters and
        # digits count only when there are several (an encoded identifier has one per character); an escaped
        # separator (``%2D``, ``%20``) always does, but ``=20`` and ``\\x20`` only among several (``limit=20``).
        escapes = sum(1 for m, r in decoded if r is not None and m.group()[0] != "&")
        edits.extend(
            (m.start(), m.end(), r)
            for m, r in decoded
            if r is not None and (escapes >= 3 or m.group()[0] == "&" or (m.group()[0] == "%" and not r.isalnum()))
        )
    if "\u283c" in text:
        for m in _BRAILLE_NUMBER.finditer(text):
            edits.append((m.start(), m.start(1), ""))
            edits.extend((i, i + 1, _BRAILLE_DIGIT[text[i]]) for i in range(m.start(1), m.end(1)))
            if m.group(2):
                edits.append((m.start(2), m.end(2), "-"))
    for m in numwords.SPELLED.finditer(text):
        edits.extend(numwords.spelled_edits(text, m))
    edits.extend(numeral_edits(text))
    return edits


# A run of groups of digits and capitals joined by separator runs of any length (any characters but letters,
# digits and line breaks: ``536,,,,90,,,,4721``, ``536 - - 90 - - 4721``); anchored and possessive, so linear.
_GROUPS = re.compile(r"(?<![0-9A-Z])[0-9A-Z]++(?:(?:[^\w\n]|_)++[0-9A-Z]++)*+")
_GROUP = re.compile(r"[0-9A-Z]+")
_STANDARD_SEPARATORS = frozenset({"-", " ", "."})
_GLUE_BEFORE = re.compile(r"[A-Za-z]{1,64}_?\Z")
_MIN_DIGITS = 9
# Nine or more single digits or capitals, each one space (or a group's - or .) apart: ``5 3 6 9 0 4 7 2 1``, an
# identifier with a blank glyph between every character, or digits with full stops (NFKC's ``⒌`` is ``5.``).
_SPACED = re.compile(r"(?<!\w)[0-9A-Z](?:(?:\.?[ \-]|\.)[0-9A-Z](?![0-9A-Za-z])){8,}+")
_GAP = re.compile(r"[^0-9A-Z]+")


# A whole run of three to five groups of one to four digits, one space apart (nothing digit-like before or after it);
# bounded and anchored at the run's start, so linear.
_SPACED_GROUPS = re.compile(r"(?<![\w.,\-/:])(?<![0-9]\s)[0-9]{1,4}(?: [0-9]{1,4}){2,4}+(?![\w,\-/:]|\.[0-9]|\s[0-9])")
_SSN_SHAPE = numwords.SSN_SHAPE


def separator_edits(text: str) -> list[Edit]:
    """Edits that give identifiers standard separators and split them from words they are glued to."""
    edits: list[Edit] = []
    for m in _SPACED_GROUPS.finditer(text):  # 53 69 04 721: nine digits grouped irregularly read as one number
        shape = tuple(len(g) for g in m.group().split(" "))
        if sum(shape) == 9 and shape != _SSN_SHAPE:
            edits.extend((m.start() + i, m.start() + i + 1, "") for i, c in enumerate(m.group()) if c == " ")
    for m in _SPACED.finditer(text):
        if sum(c.isdigit() for c in m.group()) >= 6:
            # One character a group: the commonest separator is between the characters (all of them, if there is
            # one kind: ``5 3 6 9 0 4 7 2 1``, ``5.3.6-9.0-4.7.2.1`` from ``⒌⒊⒍-⒐⓪-...``), the others between groups.
            gaps = list(_GAP.finditer(m.group()))
            counts = Counter(g.group() for g in gaps)
            joiner = max(counts, key=lambda k: (counts[k], k == " "))
            edits.extend((m.start() + g.start(), m.start() + g.end(), "") for g in gaps if g.group() == joiner)
    for m in _GROUPS.finditer(text):
        value = m.group()
        if sum(c.isdigit() for c in value) < _MIN_DIGITS:
            continue
        groups = [(m.start() + g.start(), m.start() + g.end()) for g in _GROUP.finditer(value)]
        # A capitalized word after the digits ("[12/03/25, 10:32:01] Alex: ok") is a word, not a group: its capital
        # is neither joined to the run nor split off from the rest of the word ("A lex").
        while len(groups) > 1 and _starts_word(text, *groups[-1]):
            groups.pop()
        # A word of capitals before or after the digits is a label (``SSN: 078-05-1120``), not a group.
        inner = _without_labels(text, groups)
        separators = [(a[1], b[0]) for a, b in itertools.pairwise(inner)]
        listed = _list_commas(text, inner, separators)
        kinds = {text[s:e] for s, e in separators if (s, e) not in listed}
        # An IBAN-like run (a group of letters and digits) written with mixed separators: even - . and space fold.
        coded = len(kinds) > 1 and any(_is_coded(text[a:b]) for a, b in inner)
        if separators and (coded or not kinds <= _STANDARD_SEPARATORS):
            odd = _odd_separator_edits(text, inner, separators, len(kinds) == 1, coded)
            edits.extend(edit for edit in odd if edit[:2] not in listed)
        edits.extend(_glue_edits(text, m.start(), groups[-1][1], groups[0]))
    return edits


def _starts_word(text: str, start: int, end: int) -> bool:
    """Whether the group ``text[start:end]`` is a word's capitals followed by its lower-case letters."""
    return text[start:end].isalpha() and end < len(text) and text[end].islower()


_LIST_COMMA = re.compile(r"[,;] +")


def _list_commas(text: str, groups: list[tuple[int, int]], separators: list[tuple[int, int]]) -> set[tuple[int, int]]:
    """The separators of a list of whole values (``+1-572-874-9207, 001-869-572-0119``, ``078-05-1120; 219-09-9999``):
    a comma or semicolon and a space, where every item between them holds nine digits or more. Kept as written, so
    two phone numbers are not read as one run (the shorter items of ``536, 90, 4721`` are still joined)."""
    cuts = [i for i, (s, e) in enumerate(separators) if _LIST_COMMA.fullmatch(text, s, e)]
    # A group of capitals and digits (an IBAN's country code and check digits) makes the run one coded value:
    # ``FR76 3000 6000 0112, 3456 7890 189`` is an IBAN with a comma in it, not a list.
    if not cuts or any(_is_coded(text[a:b]) for a, b in groups):
        return set()
    bounds = [0, *(i + 1 for i in cuts), len(groups)]
    for lo, hi in itertools.pairwise(bounds):
        if sum(c.isdigit() for a, b in groups[lo:hi] for c in text[a:b]) < _MIN_DIGITS:
            return set()
    return {separators[i] for i in cuts}


def _odd_separator_edits(
    text: str, groups: list[tuple[int, int]], separators: list[tuple[int, int]], uniform: bool, coded: bool
) -> list[Edit]:
    """One kind of odd separator: every one becomes ``-``. Mixed kinds (``536/90-4721``, ``536 / 90 - 4721``): the
    odd ones become ``-`` (in an IBAN-like run the standard ones too), except where the run reads as numbers
    people write: a thousands comma (``1,810,144.13``) and a time's colon (``09:58:14``) are kept."""
    if uniform:
        return [(s, e, "-") for s, e in separators]
    edits: list[Edit] = []
    # A bracketed area code is a phone number's; nine digits are an SSN's length: (536)90-4721 is one.
    nine = sum(c.isdigit() for a, b in groups for c in text[a:b]) == _MIN_DIGITS
    for i, (s, e) in enumerate(separators):
        sep, before, after = text[s:e], text[groups[i][0] : groups[i][1]], text[groups[i + 1][0] : groups[i + 1][1]]
        if sep == "-" or (sep in _STANDARD_SEPARATORS and not coded):
            continue
        if sep == "," and len(after) == 3 and after.isdigit() and before.isdigit():
            continue
        if sep.startswith(")") and text[groups[i][0] - 1 : groups[i][0]] == "(" and not nine:  # (510)848-2988
            continue
        if sep == ":" and _digits_before(before) in (1, 2) and after[:2].isdigit() and not after[2:3].isdigit():
            continue
        edits.append((s, e, "-"))
    return edits


def _without_labels(text: str, groups: list[tuple[int, int]]) -> list[tuple[int, int]]:
    start, end = 0, len(groups)
    while start < end and _is_label(text[groups[start][0] : groups[start][1]]):
        start += 1
    while end > start and _is_label(text[groups[end - 1][0] : groups[end - 1][1]]):
        end -= 1
    return groups[start:end]


def _is_label(group: str) -> bool:
    return len(group) >= 3 and group.isalpha()


def _is_coded(group: str) -> bool:
    """A group of capitals and digits both: ``GB82``, ``06T12``."""
    return not group.isdigit() and not group.isalpha()


def _digits_before(group: str) -> int:
    return len(group) - len(group.rstrip("0123456789"))


def _glue_edits(text: str, start: int, end: int, first: tuple[int, int]) -> list[Edit]:
    edits: list[Edit] = []
    head = text[first[0] : first[1]]
    letters = len(head) - len(head.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    if letters >= 3 and letters < len(head) and head[letters].isdigit():  # SSN536-90-4721: split the capitals off
        edits.append((first[0] + letters, first[0] + letters, " "))
    elif start > 0:
        before = _GLUE_BEFORE.search(text, max(0, start - 65), start)
        if before is not None:
            word = before.group().rstrip("_")
            if not (len(word) <= 2 and word.isupper()):
                underscore = before.group().endswith("_")
                edits.append((start - 1, start, " ") if underscore else (start, start, " "))
    if end < len(text) and (text[end].isalpha() or text[end] == "_"):
        edits.append((end, end + 1, " ") if text[end] == "_" else (end, end, " "))
    return edits
