"""The digit gate counts what Presidio's ``regex`` module matches with ``\\d``, beyond ``str.isdigit`` (attack13)."""

from __future__ import annotations

from typing import Any

import pytest
import regex

from gateway.pii.decide import decide
from gateway.pii.digit_bound import has_digit
from gateway.pii.normalize import normalize
from gateway.policy.loader import GatewayPolicy

# Outlined digit one (U+1CCF1), Kawi digit one (U+11F51), Garay digit one (U+10D41): ``\d`` to ``regex``, not digits
# to ``str.isdigit`` on Python 3.11 (Unicode 14).
NEWER_DIGITS = ("\U0001ccf1", "\U00011f51", "\U00010d41")


def test_a_digit_that_only_regex_reads_counts() -> None:
    for ch in NEWER_DIGITS:
        assert regex.fullmatch(r"\d", ch) is not None
        assert has_digit(f"ACCT-{ch * 8}")


def test_every_isdigit_character_counts() -> None:
    for ch in ("7", "\u0667", "\u00b2", "\u2460", "\uff17", "\U0001d7d5"):
        assert ch.isdigit() and has_digit(f"x{ch}x")


def test_prose_and_numbers_that_are_no_digits_do_not_count() -> None:
    assert not has_digit("no digits here, \u216b (a Roman twelve), \u4e94 and \u00bd")


def newer(digits: str, zero: int) -> str:
    """``digits`` with each ASCII digit written in the run of ten that starts at ``zero``."""
    return "".join(chr(zero + int(ch)) if ch.isdigit() else ch for ch in digits)


def test_the_detection_view_reads_digits_newer_than_unicodedata() -> None:
    """An SSN in outlined digits (U+1CCF0, drawn as 0-9) or Kawi digits was read as no number at all: the view folds
    by ``unicodedata``, whose tables on Python 3.11 predate them (attack13)."""
    from gateway.pii.digits import digit_value
    from gateway.pii.normalize import detection_view

    for zero in (0x1CCF0, 0x11F50, 0x10D40):
        assert [digit_value(chr(zero + k)) for k in range(10)] == list(range(10))
        assert detection_view(f"ssn {newer('536-90-4721', zero)}").text == "ssn 536-90-4721"
    assert digit_value("x") is None and digit_value("\u216b") is None


@pytest.mark.slow
@pytest.mark.parametrize("zero", [0x1CCF0, 0x11F50])
@pytest.mark.parametrize(("value", "blocked"), [("536-90-4721", "US_SSN"), ("4539 1488 0343 6467", "CREDIT_CARD")])
def test_an_identifier_in_newer_digits_is_blocked(presidio: Any, shipped_policy: GatewayPolicy, zero: int,
                                                  value: str, blocked: str) -> None:
    text = normalize(f"my number is {newer(value, zero)}")
    scope = shipped_policy.scope("t")
    decision = decide(text, presidio.analyze([text], [scope])[0], scope, b"test-secret")
    assert decision.blocked and blocked in decision.blocked_types, decision
