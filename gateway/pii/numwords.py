"""Numbers written in words, as a reader would read them aloud: the grammar ``gateway.pii.evasion`` folds to digits.

A word is one number: a digit or a teen (``five``, ``fourteen``), a tens word with its unit (``forty-seven``), a
hundred (``five hundred thirty-six``), or a thousand (``four thousand seven hundred twenty-one``); digit words of
Spanish, French, German, Italian, Portuguese, Dutch, Polish, Turkish, Swedish, Russian, Hindi and Japanese romaji
count as well (``cinco``, ``cinq``, ``fünf``, ``sette``, ``twee``, ``pięć``, ``dört``, ``två``, ``пять``, ``पांच``,
``hachi``), spelled as the detection view reads them: accents folded away (``funf``, ``piec``), Cyrillic letters
drawn like Latin ones read as those. Every alternative is bounded in length
(and the digit words are grouped by first letter), so the scan is linear. Its value is the number it names
(``value("five hundred six") == "506"``), so a group that starts with zero is written with ``zero`` or ``oh``.

``SPELLED`` is a run of them as an evader writes one identifier (issue 17, fifth round): between two words any run of
up to five characters that are not letters or digits (``zero_seven``, ``zero-five / one``), the word ``dash``,
``hyphen`` or ``minus``, or nothing where CamelCase starts a word (``ZeroSevenEight``); digit groups may stand among
the words (``4111 one one one 1111``). ``spelled_edits`` turns a run of seven digits or more into digits.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter

from gateway.pii.alternation import by_first_character
from gateway.pii.homoglyphs import HOMOGLYPHS

Edit = tuple[int, int, str]

_ENGLISH = {"zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
            "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
            "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}  # fmt: skip
# Digit words of other languages as the detection view spells them, accents folded (``zéro`` is ``zero``, ``dört``
# ``dort``, ``två`` ``tva``, ``pięć`` ``piec``): Spanish, French, German, Italian, Portuguese, Dutch, Polish,
# Turkish, Swedish and Japanese romaji. Short ones that are words of other languages too (``en``, ``een``, ``ni``,
# ``go``, ``bir``, ``sei``, ``tre``) count only in a run of seven digits or more, as every number word does.
_FOREIGN = {"cero": 0, "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7,
            "ocho": 8, "nueve": 9, "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "sept": 7,
            "huit": 8, "neuf": 9, "null": 0, "eins": 1, "zwei": 2, "drei": 3, "vier": 4, "funf": 5, "fuenf": 5,
            "sechs": 6, "sieben": 7, "acht": 8, "neun": 9,
            "due": 2, "tre": 3, "quattro": 4, "cinque": 5, "sei": 6, "sette": 7, "otto": 8, "nove": 9,
            "um": 1, "uma": 1, "dois": 2, "duas": 2, "quatro": 4, "sete": 7, "oito": 8,
            "nul": 0, "een": 1, "twee": 2, "drie": 3, "vijf": 5, "zes": 6, "zeven": 7, "negen": 9,
            "jeden": 1, "jedna": 1, "dwa": 2, "dwie": 2, "trzy": 3, "cztery": 4, "piec": 5, "szesc": 6,
            "siedem": 7, "osiem": 8, "dziewiec": 9,
            "sifir": 0, "bir": 1, "iki": 2, "uc": 3, "dort": 4, "bes": 5, "alti": 6, "yedi": 7, "sekiz": 8,
            "dokuz": 9,
            "noll": 0, "en": 1, "ett": 1, "tva": 2, "fyra": 4, "fem": 5, "sex": 6, "sju": 7, "atta": 8, "nio": 9,
            "rei": 0, "maru": 0, "ichi": 1, "ni": 2, "san": 3, "yon": 4, "shi": 4, "go": 5, "roku": 6, "nana": 7,
            "shichi": 7, "hachi": 8, "kyu": 9, "kyuu": 9, "ku": 9}  # fmt: skip
# Russian and Hindi digit words as written; the view reads them otherwise (``_viewed``).
_SCRIPTS = {"ноль": 0, "нуль": 0, "один": 1, "одна": 1, "два": 2, "две": 2, "три": 3,
            "четыре": 4, "пять": 5, "шесть": 6, "семь": 7, "восемь": 8, "девять": 9,
            "शून्य": 0, "एक": 1, "दो": 2, "तीन": 3, "चार": 4, "पांच": 5, "पाँच": 5, "छह": 6, "छः": 6, "सात": 7,
            "आठ": 8, "नौ": 9}  # fmt: skip


def _viewed(word: str) -> set[str]:
    """How the detection view's first pass spells ``word``, lower-cased: Cyrillic letters drawn like Latin ones (or
    like a digit: ``Ч`` is 4, so ``ЧЕТЫРЕ`` is ``4ETЫPE``) read as those. Combining signs (Devanagari's ``ं``, ``्``)
    are still there when the words are read: they are dropped in the same pass."""
    return {"".join(HOMOGLYPHS.get(c, c) for c in form).lower() for form in (word, word.upper(), word.capitalize())}


_DIGIT_WORDS = {**_FOREIGN, **{v: n for w, n in _SCRIPTS.items() for v in _viewed(w)}}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}  # fmt: skip
_SCALES = {"hundred": 100, "thousand": 1000}
_VALUES = {**_ENGLISH, **_DIGIT_WORDS, **_TENS}

_UNIT = "(?:one|two|three|four|five|six|seven|eight|nine)"
_S = r"[ \-_]"
# Where a word ends: no letter or digit follows (an underscore may), nor a Devanagari sign (``re`` reads its vowel
# signs as no word characters), or CamelCase starts the next word.
_CAMEL = r"(?-i:(?<=[a-z])(?=[A-Z]))"
_DEVANAGARI = "[\u0900-\u097f]"
_END = rf"(?:(?![^\W_]|{_DEVANAGARI})|{_CAMEL})"
# A tens word takes its unit unless that unit starts a hundred or thousand (``ninety four thousand ...`` is 90 and
# 4,000-something, as a group of an identifier is at most four digits).
_TEN_UNIT = (rf"(?:twenty|thirty|forty|fourty|fifty|sixty|seventy|eighty|ninety)"
             rf"(?:{_S}?{_UNIT}{_END}(?!{_S}(?:hundred|thousand){_END}))?")
_TEEN = r"(?:thir|four|fif|six|seven|eigh|nine)teen|eleven|twelve|ten"
_BELOW_HUNDRED = rf"(?:{_TEN_UNIT}|{_TEEN}|{_UNIT})"
_HUNDRED = rf"{_UNIT}{_S}hundred(?:{_S}(?:and{_S})?{_BELOW_HUNDRED}{_END})?"
_THOUSAND = rf"{_UNIT}{_S}thousand(?:{_S}(?:and{_S})?(?:{_HUNDRED}|{_BELOW_HUNDRED}){_END})?"


# Longest first, so ``fourteen`` is not ``four`` and ``five hundred`` is not ``five``; grouped by first character
# (``gateway.pii.alternation``), so that ``re`` tries few of the hundred and more words at a position. Words that
# start with a letter that has case outside ASCII (Cyrillic ``д``) cannot be grouped: they follow, in one group.
_WORDS = [_THOUSAND, _HUNDRED, _TEN_UNIT, _TEEN, _UNIT, *sorted(["zero", "oh", *_DIGIT_WORDS], key=len, reverse=True)]
_CASED = [w for w in _WORDS if not w[0].isascii() and w[0].lower() != w[0].upper()]
WORD = "(?:" + by_first_character([w for w in _WORDS if w not in _CASED]) + "|" + "|".join(_CASED) + ")"
# A tens word may be glued to its unit (``ThirtyEight``): it is one part, the unit another.
_PARTS = re.compile(r"twenty|thirty|forty|fourty|fifty|sixty|seventy|eighty|ninety|[a-z]+")


def value(words: str) -> str:
    """The digits a number in words stands for (``forty-seven`` -> ``47``, ``cinco`` -> ``5``)."""
    if words.lower() in _DIGIT_WORDS:
        return str(_DIGIT_WORDS[words.lower()])
    total = current = 0
    for part in _PARTS.findall(words.lower()):
        if part in _SCALES:
            current = max(current, 1) * _SCALES[part]
            if part == "thousand":
                total, current = total + current, 0
        elif part != "and":
            current += _VALUES[part]
    return str(total + current)


# One item of a run: a number word or a group of digits; between two items, a gap (see the module docstring).
_ITEM = rf"(?:{WORD}|[0-9]{{1,6}}+)"
_GAP = rf"(?:[ \t]*+\b(?:dash|hyphen|minus)\b[ \t]*+|(?:[^\w\n]|_){{1,5}}+|{_CAMEL})"
SPELLED = re.compile(rf"(?<![^\W_])(?<!{_DEVANAGARI}){_ITEM}{_END}(?:{_GAP}{_ITEM}{_END})++", re.IGNORECASE)
# The items of a run; a dash word is matched whole, so that no digit word inside it is read (``en`` in ``hyphen``).
_SPELLED_ITEM = re.compile(rf"\b(?:dash|hyphen|minus)\b|{WORD}|[0-9]++", re.IGNORECASE)
_DASH_WORDS = frozenset({"dash", "hyphen", "minus"})
_MIN_DIGITS = 7
SSN_SHAPE = (3, 2, 4)


def _kind(gap: str) -> str:
    """A gap's kind: its visible characters (``dash`` is ``-``), a blank, or nothing (CamelCase)."""
    visible = gap.strip(" \t").lower()
    return "-" if visible in _DASH_WORDS else visible or gap[:1]


def spelled_edits(text: str, m: re.Match[str]) -> list[Edit]:
    """A ``SPELLED`` run as digits, if it holds seven or more and at least two words (a number word among digit
    groups alone is prose: ``2019 one 1234``). The rarest kind of gap that gives an identifier's groups separates
    groups (``- `` in ``five three six - nine zero - ...``, the blank in ``five-three-six ninety ...``, ``dash``),
    the others join digits; nine digits with no such gap are read as an SSN's 3-2-4, more are joined."""
    items = [(m.start() + w.start(), m.start() + w.end(), w.group()) for w in _SPELLED_ITEM.finditer(m.group())
             if w.group().lower() not in _DASH_WORDS]  # fmt: skip
    words = [(s, e, t if t.isdigit() else value(t)) for s, e, t in items]
    if sum(len(v) for _, _, v in words) < _MIN_DIGITS or sum(not t.isdigit() for _, _, t in items) < 2:
        return []
    kinds = [_kind(text[a[1] : b[0]]) for a, b in itertools.pairwise(words)]
    counts = Counter(kinds)
    split: str | None = None
    for kind in sorted(counts, key=lambda k: (counts[k], k.isspace())):
        lengths = [len(words[0][2])]
        for gap, word in zip(kinds, words[1:], strict=True):
            if gap == kind:
                lengths.append(0)
            lengths[-1] += len(word[2])
        if len(lengths) > 1 and (tuple(lengths) == SSN_SHAPE or min(lengths) >= 3):
            split = kind
            break
    edits: list[Edit] = []
    done = 0
    nine = split is None and sum(len(v) for _, _, v in words) == 9
    for (start, end, digits), kind, (next_start, _, _) in zip(words, kinds, words[1:], strict=False):
        done += len(digits)
        edits.append((start, end, digits))
        edits.append((end, next_start, "-" if kind == split or (nine and done in (3, 5)) else ""))
    start, end, digits = words[-1]
    edits.append((start, end, digits))
    return edits
