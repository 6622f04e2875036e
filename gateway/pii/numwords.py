"""Numbers written in words, as a reader would read them aloud: the grammar ``gateway.pii.evasion`` folds to digits.

A word is one number: a digit or a teen (``five``, ``fourteen``), a tens word with its unit (``forty-seven``), a
hundred (``five hundred thirty-six``), or a thousand (``four thousand seven hundred twenty-one``); digit words of
Spanish, French and German count as well (``cinco``, ``cinq``, ``fünf``: the detection view has folded accents
away, so ``funf``). Every alternative is bounded in length, so the scan is linear. Its value is the number it names
(``value("five hundred six") == "506"``), so a group that starts with zero is written with ``zero`` or ``oh``.
"""

from __future__ import annotations

import re

_ENGLISH = {"zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
            "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
            "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}  # fmt: skip
# Digit words of other languages (Spanish, French, German), as the view spells them (accents folded).
_FOREIGN = {"cero": 0, "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7,
            "ocho": 8, "nueve": 9, "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "sept": 7,
            "huit": 8, "neuf": 9, "null": 0, "eins": 1, "zwei": 2, "drei": 3, "vier": 4, "funf": 5, "fuenf": 5,
            "sechs": 6, "sieben": 7, "acht": 8, "neun": 9}  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}  # fmt: skip
_SCALES = {"hundred": 100, "thousand": 1000}
_VALUES = {**_ENGLISH, **_FOREIGN, **_TENS}

_UNIT = "(?:one|two|three|four|five|six|seven|eight|nine)"
_S = r"[ \-]"
# A tens word takes its unit unless that unit starts a hundred or thousand (``ninety four thousand ...`` is 90 and
# 4,000-something, as a group of an identifier is at most four digits).
_TEN_UNIT = (rf"(?:twenty|thirty|forty|fourty|fifty|sixty|seventy|eighty|ninety)"
             rf"(?:{_S}?{_UNIT}\b(?!{_S}(?:hundred|thousand)\b))?")
_TEEN = r"(?:thir|four|fif|six|seven|eigh|nine)teen|eleven|twelve|ten"
_BELOW_HUNDRED = rf"(?:{_TEN_UNIT}|{_TEEN}|{_UNIT})"
_HUNDRED = rf"{_UNIT}{_S}hundred(?:{_S}(?:and{_S})?{_BELOW_HUNDRED}\b)?"
_THOUSAND = rf"{_UNIT}{_S}thousand(?:{_S}(?:and{_S})?(?:{_HUNDRED}|{_BELOW_HUNDRED})\b)?"
_DIGIT = "zero|oh|" + "|".join(sorted(_FOREIGN, key=len, reverse=True))
# Longest first, so ``fourteen`` is not ``four`` and ``five hundred`` is not ``five``.
WORD = rf"(?:{_THOUSAND}|{_HUNDRED}|{_TEN_UNIT}|{_TEEN}|{_UNIT}|{_DIGIT})"
_PARTS = re.compile(r"[a-z]+")


def value(words: str) -> str:
    """The digits a number in words stands for (``forty-seven`` -> ``47``, ``cinco`` -> ``5``)."""
    total = current = 0
    for part in _PARTS.findall(words.lower()):
        if part in _SCALES:
            current = max(current, 1) * _SCALES[part]
            if part == "thousand":
                total, current = total + current, 0
        elif part != "and":
            current += _VALUES[part]
    return str(total + current)
