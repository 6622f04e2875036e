"""Phone numbers as people write them: libphonenumber for the listed regions, plus a North American pattern.

* libphonenumber (Presidio's ``PhoneRecognizer``) over the regions, one scan per country calling code (US and
  CA share +1, so listing both costs one scan). It reads ``+44 20 7946 0958``, ``030 1234567``, ``+91 98765
  43210``, extensions, and so on, but only numbers it holds valid for an assigned range.
* A North American pattern for what libphonenumber calls invalid (an unassigned area code is still someone's
  number to a caller who mistyped, and still PII to us) and for the shapes it misses: trunk and international
  prefixes (``1-``, ``+1-``, ``001-``), dots, spaces, parentheses with or without a space after them, and
  extensions (``x1234``, ``ext. 12``, ``#12``). Separated numbers score 0.4 (the default policy's phone
  threshold); a bare ten-digit run scores 0.3 and counts only with a phone word nearby.
"""

from __future__ import annotations

from collections.abc import Iterable

import phonenumbers
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

DEFAULT_PHONE_REGIONS: tuple[str, ...] = ("US", "GB", "DE", "FR", "IN", "CA")
CONTEXT = [
    "phone", "call", "mobile", "cell", "tel", "telephone", "fax", "callback", "number", "contact", "reach",
    "office", "desk", "whatsapp", "sms", "text", "registered", "landline", "ext", "extension",
]  # fmt: skip
_PREFIX = r"(?:(?:\+|00)?1[ .-]?)?"
_AREA = r"(?:\([2-9][0-9]{2}\)[ .-]?|[2-9][0-9]{2}[ .-])"
_EXTENSION = r"(?:[ ]?(?:x|ext\.?|extension|#)[ ]?[0-9]{1,6})?"
# Each part is a bounded, unambiguous sequence: no nested quantifiers, so matching stays linear.
_NANP = r"(?<![\w+])" + _PREFIX + _AREA + r"[0-9]{3}[ .-][0-9]{4}" + _EXTENSION + r"(?![0-9])"
_BARE = r"(?<![\w+.-])(?:\+?1)?[2-9][0-9]{2}[2-9][0-9]{6}(?![\w.-]?[0-9])"


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


def phone_recognizers(regions: Iterable[str] = DEFAULT_PHONE_REGIONS) -> list[EntityRecognizer]:
    patterns = [Pattern("North American phone", _NANP, 0.4), Pattern("bare ten digits", _BARE, 0.3)]
    nanp = PatternRecognizer(supported_entity="PHONE_NUMBER", patterns=patterns, context=CONTEXT, name="nanp")
    return [PhoneRecognizer(supported_regions=distinct_regions(regions)), nanp]
