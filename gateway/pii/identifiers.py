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

from gateway.pii.checksums import IBAN_LENGTHS, iban_ok, nhs_ok

# Country, two check characters, then 11-30 letters or digits in groups of any size, a separator allowed anywhere
# (``GB 82 WEST ...``, ``GB8 2WE ST1 ...``); any case (Presidio matches case-insensitively: ``de89 3704 ...``), so
# the registry length and mod 97 are what keep words and numbers out. Linear: one character per iteration, the
# separator optional and never alphanumeric; bounded.
_IBAN = r"(?<![\w-])[A-Z][ \n-]?[A-Z][ \n-]?[0-9OIl][ \n-]?[0-9OIl](?:[ \n-]?[A-Za-z0-9]){11,30}(?![\w])"


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
