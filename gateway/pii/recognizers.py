"""The Presidio recognizers the gateway uses, built only for the entity types the policy lists.

Departures from Presidio's defaults, each on purpose:

* US_SSN: any well-formed ``3-2-4`` number (separators ``-``, ``.``, space) scores 0.85 and is NOT checked for
  validity. Presidio drops "invalid" SSNs (078-05-1120, 123-45-6789, area 000/666/9xx); a bank would rather
  block a well-formed number that is not a real SSN than let a real one through on a rule it did not write.
  A bare nine-digit run, or nine digits grouped otherwise (``536-904-721``, ``5369-04721``), scores 0.3 and
  counts only with context ("ssn", "social security": +0.35).
* IBAN_CODE, SWIFT_CODE, UK_NHS, DATE_OF_BIRTH: our own (``identifiers``); UK_NINO and US_ITIN: Presidio's.
* EMAIL_ADDRESS: the TLD check uses tldextract's bundled public-suffix snapshot; nothing is ever fetched. An address
  under a private-use top-level name (``jane@corp.bank.internal``, ``.local``, ``.corp``, ``.lan``: an in-house
  mail domain, never delegated publicly) counts too: it names a person as surely as a public one.
* CREDIT_CARD: our own (``cards``): every ISO/IEC 7812 length 12-19, every scheme's issuer ranges, any
  grouping, Luhn; short forms and unknown ranges count only with a card word nearby.
* PHONE_NUMBER: libphonenumber over the listed regions plus a North American pattern (``phones``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, ClassVar

import tldextract
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import (
    CryptoRecognizer,
    EmailRecognizer,
    IpRecognizer,
    UkNinoRecognizer,
    UrlRecognizer,
    UsBankRecognizer,
    UsItinRecognizer,
    UsLicenseRecognizer,
    UsPassportRecognizer,
)

from gateway.pii.cards import CardRecognizer
from gateway.pii.checksums import luhn_ok, mod97_ok
from gateway.pii.identifiers import DateOfBirthRecognizer, IbanRecognizer, SwiftRecognizer, UkNhsRecognizer
from gateway.pii.phones import phone_recognizers
from gateway.policy.loader import DEFAULT_PHONE_REGIONS, CustomRecognizerSpec

NER_ENTITIES = frozenset({"PERSON", "LOCATION", "NRP", "ORGANIZATION", "DATE_TIME"})


@lru_cache(maxsize=1)
def offline_tld_extractor() -> tldextract.TLDExtract:
    """tldextract on its bundled snapshot: no suffix-list URLs, no cache directory, so no network, ever."""
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


_EMAIL_CHAR = r"[!#$%&'*+\-/=?^_`{|}~\w]"

# Top-level names used for in-house networks and mail, none of them publicly delegated: ``internal`` (reserved by
# ICANN for private use, 2024), ``local`` (multicast DNS, RFC 6762), ``home``, ``corp`` and ``mail`` (withheld by
# ICANN for name collisions), and the names routers and directory services ship with.
PRIVATE_USE_TLDS = frozenset({
    "internal", "local", "localdomain", "lan", "home", "corp", "mail", "intranet", "intra", "private",
})


def private_use_domain(address: str) -> bool:
    """Whether the address's domain has two labels or more and ends in a private-use top-level name."""
    labels = address.rpartition("@")[2].split(".")
    return len(labels) >= 2 and all(labels) and labels[-1].lower() in PRIVATE_USE_TLDS


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail recognizer with a linear-time pattern. Presidio's own (``[...]{0,}`` before the ``@``) is
    quadratic: 16,001 characters of ``a.a.a...@`` took 55 s of CPU and outlived the detection budget. The local
    part here is at most 64 characters (RFC 5321), which bounds the work per starting position."""

    BOUNDED: ClassVar[list[Pattern]] = [
        Pattern("Email (bounded)",
                rf"\b{_EMAIL_CHAR}(?:[!#$%&'*+\-/=?^_`{{|}}~.\w]{{0,62}}{_EMAIL_CHAR})?@\w+(?:-+\w+)*(?:\.\w+(?:-+\w+)*)+\b",
                0.5),
    ]

    def __init__(self) -> None:
        super().__init__(patterns=self.BOUNDED)

    def validate_result(self, pattern_text: str) -> bool:
        return bool(offline_tld_extractor()(pattern_text).fqdn) or private_use_domain(pattern_text)

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None,
                regex_flags: int | None = None) -> list[RecognizerResult]:
        """Presidio's results, and the address at the head of a match that fails the TLD check only for what
        follows it: the pattern runs on to ``example.com.pdf``, ``example.com_2024``, ``example.com-notes`` (a file
        name, a document id), whose last label is no TLD, and the whole match was dropped."""
        results: list[RecognizerResult] = super().analyze(text, entities, nlp_artifacts, regex_flags)
        if "@" not in text:
            return results
        flags = int(regex_flags or self.global_regex_flags or 0)
        name: str = self.name  # type: ignore[has-type]  # set untyped in Presidio's __init__
        for pattern in self.BOUNDED:
            for match in re.finditer(pattern.regex, text, flags):
                if any(r.start < match.end() and match.start() < r.end for r in results):
                    continue
                head = self._valid_head(match.group())
                if head is not None:
                    results.append(RecognizerResult(
                        self.supported_entities[0], match.start(), match.start() + len(head), self.MAX_SCORE,
                        analysis_explanation=self.build_regex_explanation(
                            name, pattern.name + " (suffix cut)", pattern.regex, pattern.score, True, flags),
                        recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: name,
                                              RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id}))
        return results

    def _valid_head(self, address: str) -> str | None:
        """The longest head of ``address``, cut before a ``.``, ``-`` or ``_`` of its domain, that passes the TLD
        check; None when none does (``x@y.z.pdf`` stays no address)."""
        at = address.find("@")
        cuts = [i for i in range(len(address) - 1, at, -1) if address[i] in "._-" and address[i - 1].isalnum()]
        for cut in cuts[:8]:  # a few labels back is where a suffix ends; a domain has few labels
            if self.validate_result(address[:cut]):
                return address[:cut]
        return None


class StrictSsnRecognizer(PatternRecognizer):
    """US_SSN without Presidio's validity filter (see the module docstring)."""

    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern("SSN 3-2-4", r"\b[0-9]{3}[- .][0-9]{2}[- .][0-9]{4}\b", 0.85),
        Pattern("SSN bare nine digits", r"\b[0-9]{9}\b", 0.3),
        # Nine digits grouped any other way (3-6, 5-4, 3-3-3, 4-5: a line break, a typo, or an evader moving the
        # separators): weak alone, strong with "ssn" or "social security" nearby. One digit per step, bounded.
        Pattern("SSN nine digits grouped otherwise", r"\b[0-9](?:[- .]?[0-9]){8}\b", 0.3),
        # A short SSN with several zeros typed as letter O (or a Cyrillic look-alike): the detection view
        # only reads O as 0 in runs of six digits or more. At least five real digits (see invalidate_result).
        Pattern("SSN with O for 0", r"\b[0-9O]{3}[- .][0-9O]{2}[- .][0-9O]{4}\b", 0.85),
        # A 3-2-4 SSN whose dashes (or dots) stand where an SSN has them, with a stray blank inside a group
        # (``536-90-47 21``, ``53 6-90-4721``): a reader puts it back together at once, so it counts without a
        # context word. Blanks alone (``536 90 47 21``) stay the weak grouping above: a phone number reads so too.
        Pattern("SSN 3-2-4 with a stray blank",
                r"\b(?:[0-9]{3}|[0-9] [0-9]{2}|[0-9]{2} [0-9])([-.])(?:[0-9]{2}|[0-9] [0-9])\1"
                r"(?:[0-9]{4}|[0-9] [0-9]{3}|[0-9]{2} [0-9]{2}|[0-9]{3} [0-9])\b", 0.6),
    ]
    CONTEXT: ClassVar[list[str]] = ["ssn", "ssns", "social", "security", "ss#", "ssid", "taxpayer"]
    NEEDS_DIGIT: ClassVar[bool] = True  # ``invalidate_result`` drops a match with fewer than five digits

    def __init__(self) -> None:
        super().__init__(supported_entity="US_SSN", patterns=self.PATTERNS, context=self.CONTEXT, name="us-ssn")

    def invalidate_result(self, pattern_text: str) -> bool:
        return sum(c.isdigit() for c in pattern_text) < 5


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


def _words(context: Iterable[str], *extra: str) -> list[str]:
    """Context words with their plurals: context matches whole words, and no lemmatizer is loaded."""
    words = [*context, *extra]
    return sorted({w for word in words for w in (word, word + "s")})


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
        "CREDIT_CARD": CardRecognizer,
        "IBAN_CODE": IbanRecognizer,
        "SWIFT_CODE": SwiftRecognizer,
        "UK_NHS": UkNhsRecognizer,
        "UK_NINO": UkNinoRecognizer,
        "DATE_OF_BIRTH": DateOfBirthRecognizer,
        "EMAIL_ADDRESS": OfflineEmailRecognizer,
        "US_BANK_NUMBER": lambda: UsBankRecognizer(context=_words(UsBankRecognizer.CONTEXT, "checking", "savings")),
        "US_PASSPORT": lambda: UsPassportRecognizer(context=_words(UsPassportRecognizer.CONTEXT)),
        "US_DRIVER_LICENSE": UsLicenseRecognizer,
        "US_ITIN": UsItinRecognizer,
        "IP_ADDRESS": IpRecognizer,
        "URL": _url,
        "CRYPTO": CryptoRecognizer,
    }
    out: list[EntityRecognizer] = [factory() for name, factory in factories.items() if name in wanted]
    if "PHONE_NUMBER" in wanted:
        out.extend(phone_recognizers(phone_regions))
    out.extend(CustomPatternRecognizer(spec) for spec in custom if spec.entity in wanted)
    return out
