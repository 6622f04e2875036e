"""Canonical text and the detection view.

Two texts, on purpose:

* ``normalize(text)`` is the canonical text: NFKC, without invisible format characters and without control
  characters other than newline and tab. It is what gets embedded, stored and shown, and every finding's
  offsets point into it.
* ``detection_view(canonical)`` is what the detectors read: homoglyphs folded to Latin, every Unicode digit
  folded to ASCII, combining marks dropped, and runs of separators inside identifiers (``078-05-\\n1120``,
  ``123 - 45 - 6789``) collapsed to one character. It carries an offset map back to the canonical text, so
  evasion tricks are caught without ever moving offsets in what is stored or shown.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Zero-width and other invisible format characters (category Cf covers U+200B..U+200D, U+2060, U+FEFF, the
# soft hyphen U+00AD, bidi overrides and tag characters) are removed; so are controls other than \n and \t.
_KEEP_CONTROLS = frozenset("\n\t")
_LINE_BREAKS = {"\r\n": "\n", "\r": "\n", "\u2028": "\n", "\u2029": "\n", "\x85": "\n"}
_LINE_BREAK_RE = re.compile("\r\n|[\r\u2028\u2029\x85]")


def _is_dropped(ch: str) -> bool:
    category = unicodedata.category(ch)
    return category == "Cf" or (category == "Cc" and ch not in _KEEP_CONTROLS)


def normalize(text: str) -> str:
    """The canonical text: line breaks unified, invisible characters stripped, then NFKC."""
    text = _LINE_BREAK_RE.sub(lambda m: _LINE_BREAKS[m.group()], text)
    if not text.isascii() or any(ord(c) < 32 or ord(c) == 127 for c in text):
        text = "".join(c for c in text if not _is_dropped(c))
    text = unicodedata.normalize("NFKC", text)
    # NFKC never produces format characters from others, but strip again to be sure the result is stable.
    return "".join(c for c in text if not _is_dropped(c)) if not text.isascii() else text


# Cyrillic and Greek letters that render like Latin ones (Unicode confusables, the common subset).
_HOMOGLYPHS = {
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "ɡ": "g", "ӏ": "l", "һ": "h", "ո": "n", "ս": "u",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T",
    "Х": "X", "У": "Y", "Ѕ": "S", "І": "I", "Ј": "J", "Ԁ": "D", "Ԛ": "Q", "Ԝ": "W", "Ү": "Y",
    "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u",
    "χ": "x", "ω": "w",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    "ı": "i", "ȷ": "j", "ℓ": "l",
    # Dash look-alikes become the hyphen the identifier patterns expect.
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u2043": "-", "\ufe58": "-",
    "\u00b7": ".", "\u2219": ".", "\u22c5": ".",
}  # fmt: skip


class _FoldTable(dict[int, int]):
    """Lazy one-to-one translation table: homoglyphs and any Unicode decimal digit to ASCII."""

    def __missing__(self, codepoint: int) -> int:
        ch = chr(codepoint)
        folded = _HOMOGLYPHS.get(ch)
        if folded is None:
            digit = unicodedata.decimal(ch, None) if codepoint > 127 else None
            folded = str(digit) if digit is not None else ch
        self[codepoint] = ord(folded)
        return ord(folded)


_FOLD = _FoldTable()
# A run of separators inside an identifier (a digit on one side, a letter or digit on the other) that an
# evader stretched or broke across lines; it is collapsed to one separator.
_SEP = r"[ \t.\-_/]"
_SEP_RUN = re.compile(
    rf"(?<=[0-9])(?:{_SEP}*\n[ \t.\-_/\n]*|{_SEP}{{2,}})(?=[0-9A-Za-z])"
    rf"|(?<=[A-Za-z])(?:{_SEP}*\n[ \t.\-_/\n]*|{_SEP}{{2,}})(?=[0-9])"
)
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


@dataclass(frozen=True)
class DetectionView:
    """The folded text detectors read, and where each of its characters came from in the canonical text."""

    text: str
    offsets: tuple[int, ...] | None  # None: identical offsets (the common, fast case)
    canonical_length: int

    def to_canonical(self, start: int, end: int) -> tuple[int, int]:
        """Map a [start, end) span of the view back to the canonical text."""
        if self.offsets is None:
            return start, end
        if end <= start:
            pos = self.offsets[start] if start < len(self.offsets) else self.canonical_length
            return pos, pos
        return self.offsets[start], self.offsets[end - 1] + 1


def _collapsed(run: str) -> str:
    if "-" in run:
        return "-"
    if "." in run:
        return "."
    return " "


def detection_view(canonical: str) -> DetectionView:
    """Fold the canonical text for detection; the result maps every span back to canonical offsets."""
    folded = canonical.translate(_FOLD) if not canonical.isascii() else canonical
    edits: list[tuple[int, int, str]] = [(m.start(), m.end(), "") for m in _COMBINING.finditer(folded)]
    edits.extend((m.start(), m.end(), _collapsed(m.group())) for m in _SEP_RUN.finditer(folded))
    if not edits:
        return DetectionView(folded, None, len(canonical))
    edits.sort()
    pieces: list[str] = []
    offsets: list[int] = []
    cursor = 0
    for start, end, replacement in edits:
        if start < cursor:
            continue  # overlapping edits: the first one wins
        pieces.append(folded[cursor:start])
        offsets.extend(range(cursor, start))
        pieces.append(replacement)
        offsets.extend([start] * len(replacement))
        cursor = end
    pieces.append(folded[cursor:])
    offsets.extend(range(cursor, len(folded)))
    return DetectionView("".join(pieces), tuple(offsets), len(canonical))
