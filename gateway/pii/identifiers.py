"""Identifiers regulated customers hold, beyond cards and phones: IBAN, SWIFT/BIC, UK NHS and NI numbers, dates of
birth. Each is a Presidio pattern recognizer; the scores say how much context each needs (the default policy's
threshold is 0.5; a context word adds 0.35).

* IBAN_CODE: every country of the IBAN registry, its length checked and the ISO 7064 mod-97 checksum verified;
  groups of any size (the country code apart too), separated by a space, a hyphen or a line break, any case.
  A letter O or I typed for a digit (or a Cyrillic look-alike the detection view folded to O) is read as 0 or 1
  when only that reading passes mod 97; a first BBAN character the view read as 1 or 0 is tried as I or O (the
  Italian check letter).
* SWIFT_CODE: 4-letter bank, ISO country, 2-character location, optional 3-character branch. All-capital
  words fit that shape ("BUSINESS"), so it scores 0.2 and needs "swift", "bic" or "bank" nearby.
* UK_NHS: 10 digits (3-3-4) with the NHS mod-11 check digit. One ten-digit number in eleven passes the check
  by chance (phone numbers too), so it scores 0.3 and needs "nhs", "patient", "health" and the like nearby; ten
  digits with a ``+`` country code or an extension are a phone number, never an NHS number.
* UK_NINO (Presidio's pattern): two prefix letters, six digits, suffix A-D; 0.5 on its own.
* DATE_OF_BIRTH: a date (ISO, numeric with / . -, or with the month's name) near "born", "dob", "birth",
  "birthday": 0.1 alone, 0.45 in context.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from presidio_analyzer import Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import NhsRecognizer

# IBAN length per country (SWIFT IBAN registry, plus the partial-IBAN countries banks accept).
_IBAN_REGISTRY = (
    "AD:24 AE:23 AL:28 AT:20 AZ:28 BA:20 BE:16 BG:22 BH:22 BI:27 BR:29 BY:28 CH:21 CR:22 CY:28 CZ:24 DE:22 "
    "DJ:27 DK:18 DO:28 EE:20 EG:29 ES:24 FI:18 FK:18 FO:18 FR:27 GB:22 GE:22 GI:23 GL:18 GR:27 GT:28 HN:28 "
    "HR:21 HU:28 IE:22 IL:23 IQ:23 IS:26 IT:27 JO:30 KW:30 KZ:20 LB:28 LC:32 LI:21 LT:20 LU:20 LV:21 LY:25 "
    "MC:27 MD:24 ME:22 MK:19 MN:20 MR:27 MT:31 MU:30 NI:28 NL:18 NO:15 OM:23 PK:24 PL:28 PS:29 PT:25 QA:29 "
    "RO:24 RS:22 RU:33 SA:24 SC:31 SD:18 SE:24 SI:19 SK:24 SM:27 SO:23 ST:25 SV:28 TL:23 TN:24 TR:26 UA:29 "
    "VA:22 VG:24 XK:20 YE:30 AO:25 BF:28 BJ:28 CF:27 CG:27 CI:28 CM:27 CV:25 DZ:26 GA:27 GQ:27 GW:25 IR:26 "
    "KM:27 MA:28 MG:27 ML:28 MZ:25 NE:28 SN:28 TD:27 TG:28"
)
# IBAN length per country (SWIFT IBAN registry, plus the partial-IBAN countries banks accept).
IBAN_LENGTHS: dict[str, int] = {item[:2]: int(item[3:]) for item in _IBAN_REGISTRY.split()}
_LOOKALIKES = (str.maketrans({"O": "0"}), str.maketrans({"O": "0", "I": "1"}))
# Country, two check characters, then 11-30 letters or digits in groups of any size, a separator allowed anywhere
# (``GB 82 WEST ...``, ``GB8 2WE ST1 ...``); any case (Presidio matches case-insensitively: ``de89 3704 ...``), so
# the registry length and mod 97 are what keep words and numbers out. Linear: one character per iteration, the
# separator optional and never alphanumeric; bounded.
_IBAN = r"(?<![\w-])[A-Z][ \n-]?[A-Z][ \n-]?[0-9OIl][ \n-]?[0-9OIl](?:[ \n-]?[A-Za-z0-9]){11,30}(?![\w])"


def mod97_ok(value: str) -> bool:
    """ISO 7064 mod 97-10 (IBAN style): move the first four characters to the end, letters to numbers."""
    compact = "".join(c for c in value.upper() if c.isalnum())
    if len(compact) < 5:
        return False
    rearranged = compact[4:] + compact[:4]
    try:
        return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1
    except ValueError:
        return False


def iban_ok(candidate: str) -> bool:
    """A registered country, its IBAN length and mod 97, as written or with look-alike letters read as digits."""
    compact = "".join(c for c in candidate if c.isalnum()).upper()
    country = compact[:2]
    if IBAN_LENGTHS.get(country) != len(compact):
        return False
    if mod97_ok(compact):
        return True
    for table in _LOOKALIKES:
        fixed = country + compact[2:].translate(table)
        if fixed != compact and mod97_ok(fixed):
            return True
    # The detection view reads an I or O between digits as 1 or 0, which turns an Italian or San Marinese
    # check letter (IT60 X054...) into a digit: read the first BBAN character back as a letter.
    back = {"1": "I", "0": "O"}.get(compact[4])
    return back is not None and mod97_ok(compact[:4] + back + compact[5:])


def nhs_ok(candidate: str) -> bool:
    """NHS number check digit: weights 10..2 over the first nine digits, 11 - (sum mod 11), 11 -> 0, 10 invalid."""
    digits = [int(c) for c in candidate if c.isdigit()]
    if len(digits) != 10:
        return False
    check = 11 - sum(d * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True)) % 11
    check = 0 if check == 11 else check
    return check != 10 and check == digits[9]


class IbanRecognizer(PatternRecognizer):
    PATTERNS: ClassVar[list[Pattern]] = [Pattern("IBAN", _IBAN, 0.5)]
    CONTEXT: ClassVar[list[str]] = ["iban", "ibans", "bank", "account", "transfer", "wire", "beneficiary", "payee"]

    def __init__(self) -> None:
        super().__init__(supported_entity="IBAN_CODE", patterns=self.PATTERNS, context=self.CONTEXT, name="iban")

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None, regex_flags: int | None = None
    ) -> list[RecognizerResult]:
        """Each candidate, or its longest prefix ending at a group boundary, that is a valid IBAN (the pattern
        runs on into the next word: ``GB82 WEST 1234 5698 7654 32 today``). A candidate that is none may have
        swallowed the start of one (``no 12 GB82 WEST ...``): the candidates starting at its later words are tried."""
        out = []
        for result in super().analyze(text, entities, nlp_artifacts, regex_flags):
            span, pos = _valid_prefix(text, result.start, result.end), result.start
            while span is None:
                word = _next_word(text, pos, result.end)
                if word is None:
                    break
                pos = word
                inner = _IBAN_AT.match(text, pos)
                span = _valid_prefix(text, inner.start(), inner.end()) if inner is not None else None
            if span is not None:
                (result.start, result.end), result.score = span, 1.0
                out.append(result)
        return out


_IBAN_AT = re.compile(_IBAN, re.IGNORECASE)  # as Presidio compiles it (case-insensitive)
_SEPARATORS = " \n-"


def _valid_prefix(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The longest ``text[start:cut]`` (``cut`` at ``end`` or at a separator) that is a valid IBAN."""
    run = text[start:end]
    cuts = [len(run)] + [i for i in range(len(run) - 1, 14, -1) if run[i] in _SEPARATORS]
    for cut in cuts:
        if iban_ok(run[:cut]):
            return start, start + cut
    return None


def _next_word(text: str, pos: int, end: int) -> int | None:
    """The start of the next group after ``pos`` within ``end`` (a letter or digit after a separator)."""
    for i in range(pos + 1, end):
        if text[i - 1] in _SEPARATORS and text[i].isalnum():
            return i
    return None


_COUNTRIES = "(?:" + "|".join([*sorted(IBAN_LENGTHS), "US", "CA", "JP", "CN", "IN", "AU", "SG", "HK", "ZA", "MX"]) + ")"

_BIC = r"\b[A-Z]{4}" + _COUNTRIES + r"[A-Z0-9]{2}(?:[A-Z0-9]{3})?\b"


class SwiftRecognizer(PatternRecognizer):
    PATTERNS: ClassVar[list[Pattern]] = [Pattern("SWIFT/BIC", _BIC, 0.2)]
    CONTEXT: ClassVar[list[str]] = ["swift", "bic", "bank", "sort", "routing", "beneficiary", "correspondent"]

    def __init__(self) -> None:
        super().__init__(
            supported_entity="SWIFT_CODE",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            name="swift",
            global_regex_flags=re.DOTALL | re.MULTILINE,  # case matters: "business" is not a BIC, BUSINESS may be
        )


# What makes ten digits part of a phone number as written: a country code with ``+`` (or an international prefix,
# ``00``/``011``) right before them, or an extension right after them (``+1-473-845-3157x997``).
_PHONE_PREFIX = re.compile(r"(?:\+[ ]?[0-9]{1,3}|(?<![0-9])(?:00|011)[0-9]{1,3})[ .-]?\(?\Z")
_PHONE_EXTENSION = re.compile(r"[ ]?(?i:x|ext\.?|extension|#)[ ]?[0-9]")
_PREFIX_REACH = 8


def phone_written(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is written as part of a phone number: a ``+`` country code or an international
    prefix before it, or an extension after it."""
    before = text[max(0, start - _PREFIX_REACH) : start]
    return _PHONE_PREFIX.search(before) is not None or _PHONE_EXTENSION.match(text, end) is not None


class UkNhsRecognizer(NhsRecognizer):
    """Presidio's NHS pattern and check digit, but a valid check scores 0.3, not 1.0 (see the module docstring).
    Ten digits written as part of a phone number (a ``+`` country code or ``001-`` before them, an extension after
    them: ``+1-473-845-3157x997``) are no NHS number, even beside "clinic": one phone number in eleven passes the
    check digit, and the NHS finding's stricter action would otherwise win the overlap and block the text."""

    SCORE = 0.3
    RESULTS_FROM_PATTERNS: ClassVar[bool] = True  # ``analyze`` filters its patterns' matches (digit_bound)

    def __init__(self) -> None:
        super().__init__(context=["nhs", "patient", "patients", "health", "hospital", "gp", "clinic"])

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None, regex_flags: int | None = None
    ) -> list[RecognizerResult]:
        out = []
        for result in super().analyze(text, entities, nlp_artifacts, regex_flags):
            if nhs_ok(text[result.start : result.end]) and not phone_written(text, result.start, result.end):
                result.score = self.SCORE
                out.append(result)
        return out


_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]{0,6}\.?"
_DATES = [
    r"\b(?:19|20)[0-9]{2}[-/.](?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12][0-9]|3[01])\b",
    r"\b(?:0?[1-9]|[12][0-9]|3[01])[-/.](?:0?[1-9]|[12][0-9]|3[01])[-/.](?:19|20)?[0-9]{2}\b",
    r"\b" + _MONTH + r" (?:0?[1-9]|[12][0-9]|3[01])(?:st|nd|rd|th)?,? (?:19|20)[0-9]{2}\b",
    r"\b(?:0?[1-9]|[12][0-9]|3[01])(?:st|nd|rd|th)? (?:of )?" + _MONTH + r",? (?:19|20)[0-9]{2}\b",
]


class DateOfBirthRecognizer(PatternRecognizer):
    PATTERNS: ClassVar[list[Pattern]] = [Pattern(f"date {i}", regex, 0.1) for i, regex in enumerate(_DATES)]
    CONTEXT: ClassVar[list[str]] = ["born", "dob", "d.o.b", "birth", "birthday", "birthdate", "bday"]

    def __init__(self) -> None:
        super().__init__(
            supported_entity="DATE_OF_BIRTH", patterns=self.PATTERNS, context=self.CONTEXT, name="date-of-birth"
        )
