"""Phone numbers as people write them: libphonenumber for the listed regions, plus a North American pattern.

* libphonenumber (Presidio's ``PhoneRecognizer``) over the regions, one scan per country calling code (US and
  CA share +1, so listing both costs one scan). It reads ``+44 20 7946 0958``, ``030 1234567``, ``+91 98765
  43210``, extensions, and so on, but only numbers it holds valid for an assigned range. The first region's
  numbers (and any written with ``+``) score 0.4; the other regions' national forms score 0.25 and count only
  with a phone word nearby: read as some country's national number, one random digit run in three or four is
  "valid" (invoice ``2023-318096``, a Unix time ``1715288860``). Those scans run only on texts with a phone word.
* A North American pattern for what libphonenumber calls invalid (an unassigned area code is still someone's
  number to a caller who mistyped, and still PII to us) and for the shapes it misses: trunk and international
  prefixes (``1-``, ``+1-``, ``001-``), dots, spaces, parentheses with or without a space after them, and
  extensions (``x1234``, ``ext. 12``, ``#12``); any number written with ``+`` and a country code; national
  numbers with a trunk ``0`` in parentheses. These score 0.4 (the default policy's phone threshold); ten digits
  grouped any other way (0.1) or a bare trunk-prefixed number (0.25) count only with a phone word nearby
  (+0.35, and at least 0.4).
* Ten bare digits with a North American area code and exchange (``2125550187``) score 0.4, except right after
  a label that makes them a reference number ("Order #", "Invoice number", "Ticket"): 0.1 there, so only a
  phone word nearby makes them a phone.
* Letters typed for digits (``(2O9)27O-5662``, ``995Ox865``): the detection view reads O as 0 only between
  digits in a run of six or more, and a parenthesis or an extension's ``x`` ends such a run. A North American
  number with O/o for 0 or I/l for 1 in its digit groups scores 0.4 when at least six real digits remain.
* The regions are the policy's ``phone_regions`` (``policy/gateway.yaml``; default US, GB, DE, FR, IN, CA).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, ClassVar

import phonenumbers
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

from gateway.policy.loader import DEFAULT_PHONE_REGIONS

CONTEXT = [
    "phone", "call", "mobile", "cell", "cellphone", "tel", "telephone", "fax", "callback", "contact", "reach",
    "office", "desk", "whatsapp", "sms", "registered", "landline", "ext", "extension",
    "answering", "dial", "voicemail", "phones", "mobiles", "cells", "faxes",
    "message", "messages", "messaging", "texting", "texted", "ring", "rang", "phoned", "phoning",
    "dialed", "dialled", "switchboard", "hotline", "helpline", "reachable",
]  # fmt: skip
_PHONE_WORD = re.compile(r"\b(?:" + "|".join(CONTEXT) + r")\b", re.IGNORECASE)
_PREFIX = r"(?:(?:\+|00)?1[ .-]?)?"
_AREA = r"(?:\([2-9][0-9]{2}\)[ .-]?|[2-9][0-9]{2}[ .-])"
_EXTENSION = r"(?:[ ]?(?:x|ext\.?|extension|#)[ ]?[0-9]{1,6})?"
# Each part is a bounded, unambiguous sequence: no nested quantifiers, so matching stays linear.
_NANP = r"(?<![\w+])" + _PREFIX + _AREA + r"[0-9]{3}[ .-][0-9]{4}" + _EXTENSION + r"(?![0-9])"
# A number written with its country code (``+44 115 496 0177``, ``+49(0)7090 05474``): a phone wherever it is.
_INTERNATIONAL = r"(?<![\w+])\+[1-9][0-9]{0,2}(?:[ .-]?\(0\))?(?:[ .-]?\(?[0-9]\)?){6,13}(?![0-9])"
# A national number with its trunk prefix: in parentheses it is a phone; bare, only with a phone word nearby.
_TRUNK_PARENS = r"(?<![\w+])\(0[0-9]{2,4}\)[ .-]?[0-9]{3,4}[ .-]?[0-9]{3,4}(?![0-9])"
_TRUNK = r"(?<![\w+.-])0[0-9]{2,4}[ -][0-9]{3,4}[ -]?[0-9]{3,4}(?![\w.-]?[0-9])"
# French national numbers keep their own shape: five pairs (``05 55 06 23 07``, ``01.23.45.67.89``).
_FRENCH = r"(?<![\w+.-])0[1-9](?:[ .][0-9]{2}){4}(?![\w.-]?[0-9])"
# Ten digits in any grouping: only with a phone word nearby (0.1, lifted to 0.45).
_TEN_DIGITS = r"(?<![\w+.-])[0-9](?:[ .-]?[0-9]){9}(?![\w.-]?[0-9])"
_BARE = r"(?<![\w+.-])(?:\+?1)?[2-9][0-9]{2}[2-9][0-9]{6}(?![\w.-]?[0-9])"
# The North American shape with letters typed for digits (O/o for 0, I/l for 1); see LookalikePhoneRecognizer.
_D = "[0-9OoIl]"
_LOOKALIKE = (
    r"(?<![\w+])(?:(?:\+|00|OO)?1[ .-]?)?(?:\([2-9]" + _D + r"{2}\)[ .-]?|[2-9]" + _D + r"{2}[ .-])" + _D
    + r"{3}[ .-]" + _D + r"{4}(?:[ ]?(?:x|ext\.?|#)[ ]?" + _D + r"{1,6})?(?![0-9OoIl])"
)
_LOOK = re.compile("[OoIl]")
_EXTENSION_MARK = re.compile(r"(?:x|ext\.?|#)(?=[ ]?[0-9OoIl])")


# The words that label a bare number as something else: "Order #2125550187", "Invoice number 2125550187".
_ID_LABEL = re.compile(
    r"(?i:\b(?:order|invoice|inv|ref|reference|ticket|account|acct|id|no|nr|number|tracking|sku|batch|serial|"
    r"case|transaction|txn|confirmation|po|isbn|policy|claim|item|part|member|booking|receipt|job|build|"
    r"version|shipment|parcel|container|record|customer))[ \t]*[#:.]?[ \t]*\Z|#[ \t]*\Z"
)
_LABEL_REACH = 24
# A person's number is no reference label: "my number 2125550187", "call her number: ..." (a pronoun before it).
_PERSONAL_NUMBER = re.compile(r"(?i:\b(?:my|your|his|her|their|our)[ \t]+number)[ \t]*[#:.]?[ \t]*\Z")


class BarePhoneRecognizer(PatternRecognizer):
    """Ten digits with a North American area code and exchange (``2125550187``, ``+12125550187``), as people
    type a number into a chat: 0.4 on their own, 0.1 right after a label that makes them an order, invoice or
    other reference number (a phone word nearby still lifts that to 0.45: "phone number 2125550187")."""

    SCORE = 0.4
    LABELLED = 0.1
    RESULTS_FROM_PATTERNS: ClassVar[bool] = True  # ``analyze`` rescores its pattern's matches (digit_bound)

    def __init__(self) -> None:
        patterns = [Pattern("bare ten digits", _BARE, self.SCORE)]
        super().__init__(supported_entity="PHONE_NUMBER", patterns=patterns, context=CONTEXT, name="bare-phone")

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None, regex_flags: int | None = None
    ) -> list[RecognizerResult]:
        return demote_labelled(text, list(super().analyze(text, entities, nlp_artifacts, regex_flags)))


def demote_labelled(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """Unseparated digits right after a reference label score 0.1 (a phone word still lifts them); a person's
    number (``my number``, ``her number``) is not a reference."""
    for result in results:
        bare = text[result.start : result.end].lstrip("+").isdigit()
        before = text[max(0, result.start - _LABEL_REACH) : result.start]
        if bare and _ID_LABEL.search(before) is not None and _PERSONAL_NUMBER.search(before) is None:
            result.score = BarePhoneRecognizer.LABELLED
    return results


# Whose number it is: "my number is ...", "... as his home number", "her cell number:" (a pronoun, perhaps a kind).
_OWNED_NUMBER = re.compile(
    r"(?i:\b(?:my|your|his|her|their|our)[ \t]+(?:(?:home|cell|mobile|work|office|direct|personal|private|new|old|"
    r"daytime|evening|landline|contact|phone|telephone)[ \t]+)?(?:number|no\.|#))(?![ \t]+of\b)"
)
_OWNED_REACH = 40  # characters either side of the digits
# A contact block: the line before the number is the last line of a US address (``Alexburgh, MO 53401``, ``FPO AA
# 39757``), and the number has its line to itself.
_AFTER_ADDRESS = re.compile(
    r"(?:(?<![A-Za-z.])[A-Za-z.]{1,40}, |\b[ADF]PO )[A-Z]{2} [0-9]{5}(?:-[0-9]{4})?[ \t]*\n[ \t]*\Z"
)
_LINE_END = re.compile(r"[ \t]*(?:\n|\Z)")


class RegroupedPhoneRecognizer(PatternRecognizer):
    """Ten digits grouped any other way (``4323 9064 63``, ``4362.3186.03``): 0.1, so only a phone word nearby
    (+0.35), a person's number ("my number is", "as his home number") or a contact block (the number on its own
    line under an address) makes them a phone (0.4); a reference number is grouped like that too."""

    OWNED = 0.4
    RESULTS_FROM_PATTERNS: ClassVar[bool] = True  # ``analyze`` rescores its pattern's matches (digit_bound)

    def __init__(self) -> None:
        patterns = [Pattern("ten digits any grouping", _TEN_DIGITS, 0.1)]
        super().__init__(supported_entity="PHONE_NUMBER", patterns=patterns, context=CONTEXT, name="regrouped-phone")

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None, regex_flags: int | None = None
    ) -> list[RecognizerResult]:
        results = list(super().analyze(text, entities, nlp_artifacts, regex_flags))
        for result in results:
            near = text[max(0, result.start - _OWNED_REACH) : result.end + _OWNED_REACH]
            if _OWNED_NUMBER.search(near) is not None or under_address(text, result.start, result.end):
                result.score = max(result.score, self.OWNED)
        return results


def under_address(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` has its line to itself, right under the last line of a US address."""
    before = text[max(0, start - 64) : start]
    return _AFTER_ADDRESS.search(before) is not None and _LINE_END.match(text, end) is not None


class PrimaryPhoneRecognizer(PhoneRecognizer):
    """libphonenumber for the first region; an unseparated number after a reference label is demoted as above
    ("Invoice number 2125550187" is valid as a New York number, and still an invoice number)."""

    NEEDS_DIGIT: ClassVar[bool] = True  # libphonenumber's matcher reads only candidates with a digit (digit_bound)

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        return demote_labelled(text, list(super().analyze(text, entities, nlp_artifacts)))


class LookalikePhoneRecognizer(PatternRecognizer):
    """A North American number with letters typed for digits: valid only when it has such a letter (a plain
    number is the ``nanp`` recognizer's) and at least six real digits (``(OOO) lll-OOOO`` is no number)."""

    def __init__(self) -> None:
        patterns = [Pattern("North American phone, letters for digits", _LOOKALIKE, 0.4)]
        super().__init__(supported_entity="PHONE_NUMBER", patterns=patterns, context=CONTEXT, name="lookalike-phone")

    def invalidate_result(self, pattern_text: str) -> bool:
        body = _EXTENSION_MARK.sub(" ", pattern_text)
        return _LOOK.search(body) is None or sum(c.isdigit() for c in body) < 6


def distinct_regions(regions: Iterable[str]) -> list[str]:
    """One region per country calling code, first listed first (US and CA share +1)."""
    seen: set[int] = set()
    out = []
    for region in regions:
        code = phonenumbers.country_code_for_region(region)
        if code and code not in seen:
            seen.add(code)
            out.append(region)
    return out


class NationalPhoneRecognizer(PhoneRecognizer):
    """libphonenumber for the regions after the first: their national forms need a phone word nearby, so the
    scans (one per region, most of the phone cost) run only on texts that hold a phone word at all."""

    SCORE = 0.25
    NEEDS_DIGIT: ClassVar[bool] = True  # libphonenumber's matcher reads only candidates with a digit (digit_bound)

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        if _PHONE_WORD.search(text) is None:
            return []
        return list(super().analyze(text, entities, nlp_artifacts))


def phone_recognizers(regions: Iterable[str] = DEFAULT_PHONE_REGIONS) -> list[EntityRecognizer]:
    patterns = [
        Pattern("North American phone", _NANP, 0.4),
        Pattern("international prefix", _INTERNATIONAL, 0.4),
        Pattern("trunk prefix in parentheses", _TRUNK_PARENS, 0.4),
        Pattern("trunk prefix", _TRUNK, 0.25),
        Pattern("French pairs", _FRENCH, 0.4),
    ]
    nanp = PatternRecognizer(supported_entity="PHONE_NUMBER", patterns=patterns, context=CONTEXT, name="nanp")
    first, *others = distinct_regions(regions) or ["US"]
    # Leniency 2 (strict grouping): "2146.669.877" is a part number, not (214) 666-9877.
    primary = PrimaryPhoneRecognizer(context=CONTEXT, supported_regions=[first], leniency=2)
    out: list[EntityRecognizer] = [
        primary, nanp, LookalikePhoneRecognizer(), BarePhoneRecognizer(), RegroupedPhoneRecognizer()
    ]
    if others:
        out.append(
            NationalPhoneRecognizer(context=CONTEXT, supported_regions=others, leniency=2, name="national-phone")
        )
    return out
