"""The Presidio recognizers the gateway uses, built only for the entity types the policy lists.

Departures from Presidio's defaults, each on purpose:

* US_SSN: any well-formed ``3-2-4`` number (separators ``-``, ``.``, space) scores 0.85 and is NOT checked for
  validity. Presidio drops "invalid" SSNs (078-05-1120, 123-45-6789, area 000/666/9xx); a bank would rather
  block a well-formed number that is not a real SSN than let a real one through on a rule it did not write.
  A bare nine-digit run scores 0.3 and counts only with context ("ssn", "social security": +0.35).
* EMAIL_ADDRESS: the TLD check uses tldextract's bundled public-suffix snapshot; nothing is ever fetched.
* CREDIT_CARD: Presidio's pattern and Luhn check, plus ``.`` as a group separator.
* CREDIT_CARD also covers Mastercard's 2221-2720 range, which Presidio's pattern misses.
* PHONE_NUMBER: libphonenumber over a short region list (each region is a full scan of the text), plus a
  North American pattern (score 0.4) for numbers libphonenumber finds invalid (unassigned area codes are
  still someone's number to a caller who mistyped, and still PII to us).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any, ClassVar

import tldextract
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    CryptoRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    PhoneRecognizer,
    UrlRecognizer,
    UsBankRecognizer,
    UsItinRecognizer,
    UsLicenseRecognizer,
    UsPassportRecognizer,
)

from gateway.policyfile import CustomRecognizerSpec

NER_ENTITIES = frozenset({"PERSON", "LOCATION", "NRP", "ORGANIZATION", "DATE_TIME"})
DEFAULT_PHONE_REGIONS: tuple[str, ...] = ("US", "GB", "DE")


@lru_cache(maxsize=1)
def offline_tld_extractor() -> tldextract.TLDExtract:
    """tldextract on its bundled snapshot: no suffix-list URLs, no cache directory, so no network, ever."""
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


class OfflineEmailRecognizer(EmailRecognizer):
    def validate_result(self, pattern_text: str) -> bool:
        return bool(offline_tld_extractor()(pattern_text).fqdn)


class StrictSsnRecognizer(PatternRecognizer):
    """US_SSN without Presidio's validity filter (see the module docstring)."""

    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern("SSN 3-2-4", r"\b[0-9]{3}[- .][0-9]{2}[- .][0-9]{4}\b", 0.85),
        Pattern("SSN bare nine digits", r"\b[0-9]{9}\b", 0.3),
        # A line break or typo that moved one separator: weak alone, strong with "ssn" nearby.
        Pattern("SSN 3-6", r"\b[0-9]{3}[- .][0-9]{6}\b", 0.3),
        Pattern("SSN 5-4", r"\b[0-9]{5}[- .][0-9]{4}\b", 0.3),
    ]
    CONTEXT: ClassVar[list[str]] = ["ssn", "ssns", "social", "security", "ss#", "ssid", "taxpayer"]

    def __init__(self) -> None:
        super().__init__(supported_entity="US_SSN", patterns=self.PATTERNS, context=self.CONTEXT, name="us-ssn")


def luhn_ok(digits: str) -> bool:
    """Luhn checksum over the digits of ``digits`` (other characters ignored)."""
    nums = [int(c) for c in digits if c.isdigit()]
    if len(nums) < 2:
        return False
    total = 0
    for i, n in enumerate(reversed(nums)):
        if i % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


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


class CustomPatternRecognizer(PatternRecognizer):
    """A recognizer declared in the policy file: regexes with scores, context words and a validator."""

    def __init__(self, spec: CustomRecognizerSpec) -> None:
        patterns = [Pattern(f"{spec.name}-{i}", regex, score) for i, (regex, score) in enumerate(spec.patterns)]
        super().__init__(supported_entity=spec.entity, patterns=patterns, context=list(spec.context), name=spec.name)
        self._validator = spec.validator

    def validate_result(self, pattern_text: str) -> bool | None:
        if self._validator == "luhn":
            return luhn_ok(pattern_text)
        if self._validator == "mod97":
            return mod97_ok(pattern_text)
        return None  # no opinion: keep the pattern's score


def _nanp_phone() -> EntityRecognizer:
    pattern = Pattern(
        "North American phone",
        r"(?<![\w+])(?:\+?1[ .-]?)?(?:\([2-9][0-9]{2}\)[ .-]?|[2-9][0-9]{2}[ .-])[0-9]{3}[ .-][0-9]{4}\b",
        0.4,
    )
    context = ["phone", "call", "mobile", "cell", "tel", "telephone", "fax", "callback", "number"]
    return PatternRecognizer(supported_entity="PHONE_NUMBER", patterns=[pattern], context=context, name="nanp")


def _card() -> EntityRecognizer:
    pattern = Pattern(
        "Credit card",
        r"\b(?!1\d{12}(?!\d))((4\d{3})|(5[0-5]\d{2})|(2[2-7]\d{2})|(6\d{3})|(1\d{3})|(3\d{3}))[- .]?(\d{3,4})[- .]?"
        r"(\d{3,4})[- .]?(\d{3,5})\b",
        0.3,
    )
    return CreditCardRecognizer(patterns=[pattern], replacement_pairs=[("-", ""), (" ", ""), (".", "")])


def _url() -> EntityRecognizer:
    """Presidio's URL recognizer, its schema-less pattern anchored at the start of a host-name run. Unanchored,
    every position of a long dotted run was re-scanned up to 253 characters against ~500 top-level domains
    (8,000 characters of ``a.`` took 50 s; anchored, 32,000 take 0.01 s). The other patterns start at a literal."""
    patterns = [
        Pattern(p.name, p.regex.replace("(?i)(", r"(?i)(?<![a-z0-9.\-])(", 1) if p.name == "Non schema URL"
                else p.regex, p.score)
        for p in UrlRecognizer.PATTERNS
    ]
    return UrlRecognizer(patterns=patterns)


def build_recognizers(
    entities: Iterable[str],
    custom: Iterable[CustomRecognizerSpec],
    phone_regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS,
) -> list[EntityRecognizer]:
    """Recognizers for exactly the pattern-based ``entities`` (NER types are served by the NER pass)."""
    wanted = set(entities)
    factories: dict[str, Any] = {
        "US_SSN": StrictSsnRecognizer,
        "CREDIT_CARD": _card,
        "IBAN_CODE": IbanRecognizer,
        "EMAIL_ADDRESS": OfflineEmailRecognizer,
        "PHONE_NUMBER": lambda: PhoneRecognizer(supported_regions=list(phone_regions)),
        "US_BANK_NUMBER": UsBankRecognizer,
        "US_PASSPORT": UsPassportRecognizer,
        "US_DRIVER_LICENSE": UsLicenseRecognizer,
        "US_ITIN": UsItinRecognizer,
        "IP_ADDRESS": IpRecognizer,
        "URL": _url,
        "CRYPTO": CryptoRecognizer,
    }
    out: list[EntityRecognizer] = [factory() for name, factory in factories.items() if name in wanted]
    if "PHONE_NUMBER" in wanted:
        out.append(_nanp_phone())
    out.extend(CustomPatternRecognizer(spec) for spec in custom if spec.entity in wanted)
    return out
