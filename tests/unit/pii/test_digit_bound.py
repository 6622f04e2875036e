"""Which recognizers a text without a digit skips (``gateway.pii.digit_bound``), and that skipping them changes no
finding: the real detector's findings with and without the skip, on texts built to tempt each recognizer."""

from __future__ import annotations

from typing import Any

import pytest
from phonenumbers.phonenumbermatcher import _PATTERN as LIBPHONENUMBER_CANDIDATE
from presidio_analyzer import Pattern, PatternRecognizer

import gateway.pii.detector as detector_module
from gateway.pii.digit_bound import has_digit, needs_digit, requires_digit
from gateway.pii.normalize import normalize
from gateway.pii.recognizers import NER_ENTITIES, CustomPatternRecognizer, build_recognizers
from gateway.policy.loader import CustomRecognizerSpec, GatewayPolicy


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b", True),
        (r"\d+", True),
        (r"[0-9]++", True),
        (r"(?>[0-9])", True),
        (r"(?:a|b)\d", True),
        (r"(?:19|20)[0-9]{2}", True),
        (r"(?=.*\d)\w+", True),  # a lookahead that must match a digit
        (r"x{0,3}[0-9]{1}", True),
        (r"\d*", False),  # may match nothing
        (r"[A-Z]{4}\d?", False),
        (r"(?:a|\d)x", False),  # one branch without a digit
        (r"[0-9O]{3}", False),  # a letter O stands for zero
        (r"[^a-z]", False),  # a negated class
        (r"(?!\d)\w", False),
        (r"(\d)?\w(?(1)\d|x)", False),  # a conditional is not read
        (r"\w+", False),
        (r"[\d\s]", False),
        (r"(?:\d{9}){e<=1}", False),  # the regex module's fuzzy matching: not judged
        (r"\p{Nd}", False),  # a Unicode property: not judged
        (r"[[0-9]--[5]]", False),  # version-1 set operations: not judged
        (r"(unclosed", False),  # not a pattern at all
    ],
)
def test_requires_digit_reads_the_pattern(pattern: str, expected: bool) -> None:
    assert requires_digit(pattern) is expected


@pytest.mark.parametrize("text", ["078", "\u0660\u0667", "\uff10", "\u00b2", "x1"])
def test_has_digit_counts_every_digit_a_pattern_can_match(text: str) -> None:
    assert has_digit(text)
    assert not has_digit("no digits here, Ⅻ or ½ either")


def test_libphonenumber_candidates_hold_a_digit() -> None:
    """The phone recognizers built on libphonenumber declare NEEDS_DIGIT: its matcher's candidate pattern says so."""
    assert requires_digit(LIBPHONENUMBER_CANDIDATE.pattern, LIBPHONENUMBER_CANDIDATE.flags)


def test_shipped_recognizers(shipped_policy: GatewayPolicy) -> None:
    recognizers = build_recognizers(
        shipped_policy.entity_types() - NER_ENTITIES, shipped_policy.recognizers, shipped_policy.phone_regions
    )
    bound = {e for r in recognizers if needs_digit(r) for e in r.supported_entities}
    free = {e for r in recognizers if not needs_digit(r) for e in r.supported_entities}
    assert {"US_SSN", "CREDIT_CARD", "PHONE_NUMBER", "UK_NHS", "US_ITIN", "DATE_OF_BIRTH"} <= bound - free
    # An IBAN's check digits may be typed as letters (O, I, l); e-mail addresses and BICs need no digit.
    assert {"IBAN_CODE", "EMAIL_ADDRESS", "SWIFT_CODE"} <= free


def test_a_recognizer_with_its_own_analyze_always_runs() -> None:
    class Mine(PatternRecognizer):
        def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None,
                    regex_flags: int | None = None) -> list[Any]:
            return []

    mine = Mine(supported_entity="X", patterns=[Pattern("digits", r"\d+", 0.5)])
    assert not needs_digit(mine)
    assert needs_digit(PatternRecognizer(supported_entity="X", patterns=[Pattern("digits", r"\d+", 0.5)]))


def test_a_policy_recognizer_in_regex_module_syntax_always_runs() -> None:
    """The policy checks a pattern with ``re``, which reads ``{e<=2}`` as text; Presidio's ``regex`` module reads
    fuzzy matching there, which may match without a digit."""
    fuzzy = CustomRecognizerSpec("ticket", "TICKET", ((r"(?:\d{6}){e<=2}", 0.9),))
    plain = CustomRecognizerSpec("ticket", "TICKET", ((r"\bT-\d{6}\b", 0.9),))
    assert not needs_digit(CustomPatternRecognizer(fuzzy))
    assert needs_digit(CustomPatternRecognizer(plain))


TEMPTING = [
    "Call me at (OOO) lll-llll or one eight hundred flowers",
    "ssn OOO-OO-OOOO, social security number on file",
    "IBAN GBOl WEST OOOO OOOO OOOO OO for the transfer",
    "card four five three nine one four eight eight zero three four three six four six seven",
    "Mail jane.doe@example.com or DEUTDEFF500 (BIC DEUTDEFF)",
    "born on the fifth of March, nineteen eighty; DOB March fifth",
    "my NHS number is four zero one, then o two three, then four five six seven",
    "passport X and license B, account number unknown, routing number none",
    "\uff26\uff55\uff4c\uff4c width text with \u216b and \u00bd but no digit at all",
]


@pytest.mark.slow
def test_skipping_changes_no_finding(presidio: Any, shipped_policy: GatewayPolicy,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    scope = shipped_policy.scope("t")
    texts = [normalize(t) for t in TEMPTING]
    skipped = presidio.analyze(texts, [scope] * len(texts))
    monkeypatch.setattr(detector_module, "has_digit", lambda text: True)
    every = presidio.analyze(texts, [scope] * len(texts))
    assert skipped == every
    assert any(skipped), "the texts tempt no recognizer: the comparison would prove nothing"
