"""Canonical text and the detection view.

Two texts, on purpose:

* ``normalize(text)`` is the canonical text: NFKC, without invisible format characters and without control
  characters other than newline and tab. It is what gets embedded, stored and shown, and every finding's
  offsets point into it. One exception to NFKC: the Roman numerals of a run that reads as one number
  (``ⅤⅢⅥ-Ⅸ0-...``) stay as written, as NFKC's letters (``VIIIVI``) could not be read as digits again
  (``gateway.pii.numerals``).
* ``detection_view(canonical)`` is what the detectors read: homoglyphs and Latin letters in other forms (small
  capitals, circled and squared letters) folded to Latin, every character with a digit value folded to ASCII,
  invisible characters dropped and blank ones made spaces, character references, escapes and spelled numbers
  decoded, Han and Roman numerals and parenthesized digits in runs that read as one number made digits, unusual
  separators inside identifiers made hyphens, identifiers split from words they are glued to
  (``gateway.pii.evasion``), and runs of separators inside identifiers (``078-05-\\n1120``, ``123 - 45 - 6789``)
  collapsed to one character. It carries an offset map back to the canonical text, so
  evasion tricks are caught without ever moving offsets in what is stored or shown.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.pii.cards import STRONG, card_score
from gateway.pii.digits import digit_value
from gateway.pii.evasion import separator_edits, unmask_edits
from gateway.pii.homoglyphs import HOMOGLYPHS
from gateway.pii.numerals import ROMAN_CHAR, kept_roman

# Zero-width and other invisible format characters (category Cf covers U+200B..U+200D, U+2060, U+FEFF, the
# soft hyphen U+00AD, bidi overrides and tag characters) are removed; so are controls other than \n and \t.
_KEEP_CONTROLS = frozenset("\n\t")
_LINE_BREAKS = {"\r\n": "\n", "\r": "\n", "\u2028": "\n", "\u2029": "\n", "\x85": "\n"}
_LINE_BREAK_RE = re.compile("\r\n|[\r\u2028\u2029\x85]")


def _is_dropped(ch: str) -> bool:
    category = unicodedata.category(ch)
    return category == "Cf" or (category == "Cc" and ch not in _KEEP_CONTROLS)


def _nfkc(text: str) -> str:
    """NFKC, but for the Roman numerals of a run that reads as one number (``gateway.pii.numerals.kept_roman``):
    NFKC would write ``ⅤⅢⅥ`` as the letters ``VIIIVI``, which the view could not read as 5, 3, 6 again."""
    if text.isascii() or not ROMAN_CHAR.search(text):
        return unicodedata.normalize("NFKC", text)
    # Decide on the text as NFKC leaves it, Roman numerals aside, so that a second ``normalize`` decides the same.
    pieces, romans = ROMAN_CHAR.split(text), [*ROMAN_CHAR.findall(text), ""]
    shielded = "".join(unicodedata.normalize("NFKC", p) + r for p, r in zip(pieces, romans, strict=True))
    kept = kept_roman(shielded)
    if not kept:
        return unicodedata.normalize("NFKC", text)
    out: list[str] = []
    cursor = 0
    for i in kept:
        out.extend((unicodedata.normalize("NFKC", shielded[cursor:i]), shielded[i]))
        cursor = i + 1
    out.append(unicodedata.normalize("NFKC", shielded[cursor:]))
    return "".join(out)


def normalize(text: str) -> str:
    """The canonical text: line breaks unified, invisible characters stripped, then NFKC."""
    text = _LINE_BREAK_RE.sub(lambda m: _LINE_BREAKS[m.group()], text)
    if not text.isascii() or any(ord(c) < 32 or ord(c) == 127 for c in text):
        text = "".join(c for c in text if not _is_dropped(c))
    text = _nfkc(text)
    # NFKC never produces format characters from others, but strip again to be sure the result is stable.
    return "".join(c for c in text if not _is_dropped(c)) if not text.isascii() else text


class _FoldTable(dict[int, int]):
    """Lazy one-to-one translation table to ASCII: homoglyphs, any character with a digit value (other scripts'
    digits, and the dingbat, circled and negative circled digits NFKC leaves alone: ``❺``, ``⓿``), Latin letters
    in another form (small capitals ``ᴇ``, negative circled and squared letters ``🅐``, regional indicators) and
    accented Latin letters."""

    def __missing__(self, codepoint: int) -> int:
        ch = chr(codepoint)
        folded = HOMOGLYPHS.get(ch)
        if folded is None:
            digit = digit_value(ch) if codepoint > 127 else None
            folded = str(digit) if digit is not None else _latin_form(ch) or _base_letter(ch)
        self[codepoint] = ord(folded)
        return ord(folded)


# Names of a Latin letter drawn another way: ``LATIN LETTER SMALL CAPITAL E``, ``NEGATIVE CIRCLED LATIN CAPITAL
# LETTER A``, ``REGIONAL INDICATOR SYMBOL LETTER A``, ``PARENTHESIZED LATIN SMALL LETTER A``; True: lower case.
_LATIN_FORMS = (("LATIN LETTER SMALL CAPITAL ", False), ("LATIN CAPITAL LETTER ", False),
                ("REGIONAL INDICATOR SYMBOL LETTER ", False), ("LATIN SMALL LETTER ", True))  # fmt: skip
_LATIN_FORM_CATEGORIES = frozenset({"Lu", "Ll", "Lo", "So"})


def _latin_form(ch: str) -> str | None:
    """The ASCII letter a Latin letter in another form reads as (small capitals as capitals), or None. Format
    characters (the tag letters) are not letters a reader sees: they stay for ``unmask_edits`` to drop."""
    if ch.isascii() or unicodedata.category(ch) not in _LATIN_FORM_CATEGORIES:
        return None
    name = unicodedata.name(ch, "")
    for marker, lower in _LATIN_FORMS:
        head, found, letter = name.rpartition(marker)
        if found and len(letter) == 1 and "A" <= letter <= "Z" and (not head or head.endswith(" ")):
            return letter.lower() if lower else letter
    return None


def _base_letter(ch: str) -> str:
    """A Latin letter with marks composed onto it (NFKC made ``G`` + U+0301 one letter) without them."""
    decomposed = unicodedata.normalize("NFD", ch)
    base, marks = decomposed[0], decomposed[1:]
    if marks and base.isascii() and base.isalpha() and all(unicodedata.category(c) == "Mn" for c in marks):
        return base
    return ch


_FOLD = _FoldTable()
# A run of separators inside an identifier (a digit on one side, a letter or digit on the other) that an
# evader stretched or broke across lines; it is collapsed to one separator.
_SEP = r"[ \t.\-_/]"
_SEP_RUN = re.compile(
    rf"(?<=[0-9])(?:{_SEP}*\n[ \t.\-_/\n]*|{_SEP}{{2,}})(?=[0-9A-Za-z])"
    rf"|(?<=[A-Za-z])(?:{_SEP}*\n[ \t.\-_/\n]*|{_SEP}{{2,}})(?=[0-9])"
)
# A bare line break inside a digit run or an email address (a word wrapped mid-identifier) is dropped.
_BARE_BREAK = re.compile(r"(?<=\S)\n+(?=\S)")
# A number that ends a sentence or heads a list item (``room 12. Chidi``, ``1. Kavya``): a period, blanks, then a
# word of letters. Collapsing it would glue the word to the number (``12.Chidi``, which spaCy reads as CARDINAL).
_SENTENCE_END = re.compile(r"\.[ \t\n]+\Z")
_LETTER_WORD = re.compile(r"[A-Za-z]+(?![0-9A-Za-z])")
# Two or more groups of digits ending in one of three or more (an extension may follow); bounded, 40 chars.
_WHOLE_VALUE_AT_END = re.compile(r"(?<![\w.-])(?:\+?\(?[0-9]{1,6}\)?[ .-]){1,7}[0-9]{3,6}(?:x[0-9]{1,6})?\Z")
_WHOLE_VALUE_AT_START = re.compile(r"(?:\+?\(?[0-9]{1,6}\)?[ .-]){1,7}[0-9]{3,6}(?:x[0-9]{1,6})?(?![ .-]?[0-9])")
_POSTCODE_AT_END = re.compile(r"[A-Za-z][A-Za-z.,]{0,30} [0-9]{4,6}\Z")
# The last line of a US address: a town, a comma, the state and its ZIP code (``Alexburgh, MO 53401``), or a
# military address (``FPO AA 39757``). Nothing written after it on the next line continues the ZIP code.
_ZIP_LINE_END = re.compile(r"(?:(?<![A-Za-z.])[A-Za-z.]{1,40}, |\b[ADF]PO )[A-Z]{2} [0-9]{5}(?:-[0-9]{4})?\Z")
# The digit groups a line starts with (a card's wrapped last groups, perhaps an expiry after them); bounded.
_LEADING_GROUPS = re.compile(r"[0-9]{1,19}(?:[ .-][0-9]{1,19}){0,4}")
_DIGIT_GROUP = re.compile(r"[0-9]+")
_ADDRESS_PART = re.compile(r"[A-Za-z0-9._%+@-]+")
_TOKEN_BEFORE = re.compile(r"\S+\Z")
_TOKEN_AFTER = re.compile(r"^\S+")
_LOOKALIKE_RUN = re.compile(r"[OoIl]+")
# Letters standing in for digits (O for 0, I or l for 1) inside digit-dense runs.
_DIGITISH_RUN = re.compile(r"[0-9A-Za-z](?:[0-9A-Za-z]|[-. ](?=[0-9A-Za-z]))*")
_LOOKALIKE_DIGIT = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1"})
# Anchored at the start of a letter-and-digit run, possessive: each run is scanned once (the unanchored,
# backtracking form was quadratic on a long run without dots: "1" * 32000 took 16 s).
_DOTTED_RUN = re.compile(r"(?<![0-9A-Za-z])[0-9A-Za-z]++(?:\.[0-9A-Za-z]++){2,}+")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


def _fix_lookalike_digits(text: str) -> str:
    """One-to-one: O/I/l between digits and non-letters in a digit-dense run become digits (a Cyrillic or
    Latin O for zero), but not a bank code touching digits (``GB67OFFI70``); dots in long dotted numbers
    become hyphens (``4111.1111.1111.1111``), except IPv4 addresses."""
    chars: list[str] | None = None
    for m in _DIGITISH_RUN.finditer(text):
        run = m.group()
        if sum(c.isdigit() for c in run) < 6:
            continue
        for look in _LOOKALIKE_RUN.finditer(run):
            before = run[look.start() - 1] if look.start() > 0 else " "
            after = run[look.end()] if look.end() < len(run) else " "
            if before.isalpha() or after.isalpha() or not (before.isdigit() or after.isdigit()):
                continue
            chars = chars if chars is not None else list(text)
            for i in range(m.start() + look.start(), m.start() + look.end()):
                chars[i] = chars[i].translate(_LOOKALIKE_DIGIT)
    if chars is not None:
        text = "".join(chars)
    return _DOTTED_RUN.sub(_dotted_to_hyphens, text)


def _dotted_to_hyphens(m: re.Match[str]) -> str:
    value = m.group()
    if sum(c.isdigit() for c in value) >= 6 and not _IPV4.fullmatch(value):
        return value.replace(".", "-")
    return value


def _break_is_inside_identifier(text: str, start: int, end: int) -> bool:
    left, right = text[start - 1], text[end]
    before = _TOKEN_BEFORE.search(text[max(0, start - 64) : start])
    after = _TOKEN_AFTER.search(text[end : end + 64])
    head, tail = (before.group() if before else ""), (after.group() if after else "")
    joined = head + tail
    if left.isdigit() and right.isdigit():
        # Unless the line ends with a whole separated value: a list of phone numbers, SSNs or cards, one a line;
        # also when the line and the one before it, rejoined, do (a value broken once, then its next line:
        # ``479-32\n4-9190\n53754 Main St``).
        lines = text[max(0, start - 60) : start].rsplit("\n", 2)
        line = lines[-1]
        previous = lines[-2] if len(lines) > 1 else ""
        wrapped = previous[-1:].isdigit() or previous[-1:] in ("-", ".")
        rejoined = wrapped and line[:1].isdigit() and _ends_with_whole_value(previous + line, len(line))
        value_line = line if _ends_with_whole_value(line) else previous + line if rejoined else None
        if value_line is not None and not _card_wrapped(value_line, text[end : end + 40]):
            return False
        if _ZIP_LINE_END.search(line) is not None:
            return False
        # Nor when an address line ends with its postcode and the next line starts with a whole value.
        after_value = _WHOLE_VALUE_AT_START.match(text[end : end + 40])
        postcode = _POSTCODE_AT_END.search(line) is not None
        return not (postcode and after_value is not None and sum(c.isdigit() for c in after_value.group()) >= 9)
    # A digit next to a letter is one identifier (``GB82WEST\n1234``) only if no lower-case word is involved:
    # ``SSN: 078-05-1120\nName:`` and ``Phone:\n555 0100`` are lines of a form, not one broken value.
    # Nor when the letters beside the break are a word of their own (``Reeves LLC\n487 755 9645``): an identifier
    # broken between letters and digits has digits on the letters' side too (``GB82WEST\n1234``).
    if (left.isdigit() or right.isdigit()) and left.isalnum() and right.isalnum():
        word = head if left.isalpha() else tail
        return not any(c.islower() for c in joined) and not (len(word) >= 3 and word.isalpha())
    # Inside an e-mail address: one wrap, the other side made only of address characters, and not the next
    # line of a form (``bob@example.com\nWebsite:``, ``E-mail:\nbob@example.com``).
    if end - start != 1 or "@" not in joined:
        return False
    other = tail.rstrip(".,;:!?)'\"") if "@" in head else head
    return _ADDRESS_PART.fullmatch(other) is not None and not ("@" in head and other[0].isupper())


def _ends_a_sentence(text: str, run: re.Match[str]) -> bool:
    """Whether a separator run after digits is a period and blanks before a word of letters: the end of a
    sentence or a list number, never the inside of one identifier (digit, separators, digit still collapse)."""
    start = run.start()
    return (
        text[start - 1].isdigit()
        and _SENTENCE_END.match(run.group()) is not None
        and _LETTER_WORD.match(text, run.end()) is not None
    )


def _card_wrapped(line: str, next_line: str) -> bool:
    """Whether the value ending ``line`` and the first groups of ``next_line`` make a card number of a known scheme
    (Luhn-valid): ``4539 1488 0343\n6467`` is one card wrapped before its last group, not a list of two values."""
    whole = _WHOLE_VALUE_AT_END.search(line)
    lead = _LEADING_GROUPS.match(next_line)
    if whole is None or lead is None:
        return False
    digits = "".join(c for c in whole.group() if c.isdigit())
    for group in _DIGIT_GROUP.findall(lead.group()):
        digits += group
        if card_score(digits) == STRONG:
            return True
    return False


def _ends_with_whole_value(line: str, within: int | None = None) -> bool:
    """Whether ``line`` ends with two or more digit groups holding nine digits or more (starting before its last
    ``within`` characters, when given: the value must reach back across the rejoined break)."""
    whole = _WHOLE_VALUE_AT_END.search(line)
    if whole is None or sum(c.isdigit() for c in whole.group()) < 9:
        return False
    return within is None or whole.start() < len(line) - within


@dataclass(frozen=True)
class DetectionView:
    """The folded text detectors read, and the canonical span each of its characters came from."""

    text: str
    starts: tuple[int, ...] | None  # None: identical offsets (the common, fast case)
    ends: tuple[int, ...] | None
    canonical_length: int

    def to_canonical(self, start: int, end: int) -> tuple[int, int]:
        """Map a [start, end) span of the view back to the canonical text (covering every source character)."""
        if self.starts is None or self.ends is None:
            return start, end
        return span_of(self.starts, self.ends, self.canonical_length, start, end)


def span_of(starts: Sequence[int], ends: Sequence[int], length: int, start: int, end: int) -> tuple[int, int]:
    if end <= start:
        pos = starts[start] if start < len(starts) else length
        return pos, pos
    return starts[start], ends[end - 1]


def _collapsed(run: str) -> str:
    if "-" in run:
        return "-"
    if "." in run:
        return "."
    return " "


_Map = tuple[str, list[int], list[int]] | None


def apply_edits(text: str, edits: list[tuple[int, int, str]]) -> _Map:
    """The text with the edits applied (overlapping ones: the first wins), and each character's source span."""
    if not edits:
        return None
    edits.sort()
    pieces: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    cursor = 0
    for start, end, replacement in edits:
        if start < cursor:
            continue
        pieces.append(text[cursor:start])
        starts.extend(range(cursor, start))
        ends.extend(range(cursor + 1, start + 1))
        pieces.append(replacement)
        starts.extend([start] * len(replacement))
        ends.extend([end] * len(replacement))
        cursor = end
    pieces.append(text[cursor:])
    starts.extend(range(cursor, len(text)))
    ends.extend(range(cursor + 1, len(text) + 1))
    return "".join(pieces), starts, ends


def detection_view(canonical: str) -> DetectionView:
    """Fold the canonical text for detection; the result maps every span back to canonical offsets.

    Two passes: the first unmasks (invisible and blank characters, character references, spelled digits; see
    ``gateway.pii.evasion``), the second works on its result (separators, glued words, line breaks)."""
    folded = canonical.translate(_FOLD) if not canonical.isascii() else canonical
    first = apply_edits(folded, unmask_edits(folded))
    text = first[0] if first is not None else folded
    if any(c.isdigit() for c in text):
        text = _fix_lookalike_digits(text)
    edits = separator_edits(text) if any(c.isdigit() for c in text) else []
    edits.extend(
        (m.start(), m.end(), _collapsed(m.group()))
        for m in _SEP_RUN.finditer(text)
        if m.group().strip("\n") and not _ends_a_sentence(text, m)
    )
    edits.extend(
        (m.start(), m.end(), "")
        for m in _BARE_BREAK.finditer(text)
        if _break_is_inside_identifier(text, m.start(), m.end())
    )
    second = apply_edits(text, edits)
    if first is None and second is None:
        return DetectionView(text, None, None, len(canonical))
    if second is None:
        assert first is not None
        return DetectionView(text, tuple(first[1]), tuple(first[2]), len(canonical))
    if first is None:
        return DetectionView(second[0], tuple(second[1]), tuple(second[2]), len(canonical))
    spans = [span_of(first[1], first[2], len(canonical), s, e) for s, e in zip(second[1], second[2], strict=True)]
    return DetectionView(second[0], tuple(s for s, _ in spans), tuple(e for _, e in spans), len(canonical))
