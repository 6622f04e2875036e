"""The digit gate counts what Presidio's ``regex`` module matches with ``\\d``, beyond ``str.isdigit`` (attack13)."""

from __future__ import annotations

import regex

from gateway.pii.digit_bound import has_digit

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
