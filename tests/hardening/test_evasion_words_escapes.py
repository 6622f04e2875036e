"""The fifth round of evasion (issue 17): number words with any gap between them, byte escapes other than ``%XX``,
base32 and base85. Each class through the real detector and the shipped policy, generated from the class's rule,
each failing on the code before (number words only took blanks, commas and hyphens between them; ``=XX`` and
``\\xXX`` were not decoded; only base64 and hex were); PII-free look-alikes stay unblocked."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from gateway.pii.contract import refused_kinds
from gateway.policy.loader import GatewayPolicy
from tests.hardening.kit import assert_all_blocked, evasions_passed

pytestmark = pytest.mark.slow

SSN = "536904721"
CARD = "4539148803436467"
ENGLISH = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
FRENCH = ["z\u00e9ro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf"]


def _groups(digits: str, shape: tuple[int, ...]) -> list[str]:
    out, at = [], 0
    for n in shape:
        out.append(digits[at : at + n])
        at += n
    return out


def _spelled(group: str, words: list[str] = ENGLISH, joiner: str = " ") -> str:
    return joiner.join(words[int(c)] for c in group)


@pytest.mark.parametrize("between", [" dash ", " hyphen ", " / ", " _ ", " ~ ", " | ", ": "])
def test_when_a_word_or_any_punctuation_separates_spelled_groups_then_the_identifier_is_blocked(
    detector: Any, policy: GatewayPolicy, between: str
) -> None:
    ssn = between.join(_spelled(g) for g in _groups(SSN, (3, 2, 4)))
    card = between.join(_spelled(g, joiner="-") for g in _groups(CARD, (4, 4, 4, 4)))
    assert_all_blocked(detector, policy, [f"ssn {ssn}", f"card {card}"])


@pytest.mark.parametrize("joiner", ["_", ".", "/", "*"])
def test_when_number_words_are_joined_by_one_punctuation_mark_then_the_identifier_is_blocked(
    detector: Any, policy: GatewayPolicy, joiner: str
) -> None:
    texts = [f"ssn {_spelled(SSN, joiner=joiner)}", f"card {_spelled(CARD, joiner=joiner)}"]
    assert_all_blocked(detector, policy, texts)


def test_when_number_words_are_written_in_camel_case_then_the_identifier_is_blocked(
    detector: Any, policy: GatewayPolicy
) -> None:
    camel = [w.capitalize() for w in ENGLISH]
    ssn = "-".join(_spelled(g, camel, "") for g in _groups(SSN, (3, 2, 4)))
    assert_all_blocked(detector, policy, [f"ssn {_spelled(SSN, camel, '')}", f"card {_spelled(CARD, camel, '')}",
                                       f"ssn {ssn}", f"ssn {_spelled(SSN, camel, '_')}"])


def test_when_french_digit_words_keep_their_accents_then_nine_of_them_read_as_an_ssn(
    detector: Any, policy: GatewayPolicy
) -> None:
    # No SSN context word: nine spelled digits without groups are read as an SSN's 3-2-4.
    assert_all_blocked(detector, policy, [f"num\u00e9ro de s\u00e9curit\u00e9 sociale {_spelled(SSN, FRENCH)}",
                                       _spelled(CARD, FRENCH)])


def test_when_digits_and_number_words_mix_in_one_identifier_then_it_is_blocked(
    detector: Any, policy: GatewayPolicy
) -> None:
    groups = _groups(CARD, (4, 4, 4, 4))
    mixed = [" ".join(g if i % 2 == 0 else _spelled(g) for i, g in enumerate(groups)),
             " ".join(_spelled(g, joiner="-") if i == 1 else g for i, g in enumerate(groups)),
             f"ssn {SSN[:3]} {_spelled(SSN[3:])}"]
    assert_all_blocked(detector, policy, [f"card {m}" for m in mixed[:2]] + mixed[2:])


def _escaped(value: str, escape: str) -> str:
    return "".join(escape.format(ord(c)) if c.isdigit() else c for c in value)


@pytest.mark.parametrize("escape", ["={:02X}", "\\x{:02x}", "\\x{:02X}"])
def test_when_digits_are_byte_escapes_then_the_identifier_is_blocked_and_counted_as_encoded(
    detector: Any, policy: GatewayPolicy, escape: str
) -> None:
    texts = [f"ssn {_escaped('536-90-4721', escape)}", f"card {_escaped('4539 1488 0343 6467', escape)}"]
    assert_all_blocked(detector, policy, texts)
    assert all(refused_kinds(t, ["encoded"]) == ["encoded"] for t in texts)


def _encodings(plain: bytes) -> list[str]:
    return [base64.b32encode(plain).decode(), base64.b32encode(plain).decode().rstrip("=").lower(),
            base64.b85encode(plain).decode(), base64.a85encode(plain).decode(),
            "<~" + base64.a85encode(plain).decode() + "~>"]


def test_when_an_identifier_is_base32_or_base85_encoded_then_it_is_blocked_and_counted_as_encoded(
    detector: Any, policy: GatewayPolicy
) -> None:
    texts = [f"note: {e}" for p in (b"536-90-4721", b"4539 1488 0343 6467", b"4111 1111 1111 1111")
             for e in _encodings(p)]
    assert_all_blocked(detector, policy, texts)
    assert all(refused_kinds(t, ["encoded"]) == ["encoded"] for t in texts)


LOOKALIKES = [
    "We met one-to-one; it is not a zero-sum game.",
    "Version 2.0.1 of OneNote ships with TwoFactor sign-in and FiveThirtyEight charts.",
    "The score went one to one, then two to three, then four to five, six to seven.",
    "Rooms one, two, three and four are booked; five and six are free.",
    "Release 2024.10.1, build 4411, one of seven builds this quarter.",
    "limit=20 offset=40 page=3 size=10 color=FF0000",
    "Use \\x41 for A and \\n for a new line.",
    "In 2019 one in five people, and in 2020 two in seven, used the service.",
    "Ship names: ZeroGravity, OneWorld, TwoRivers.",
    "Our internationalization and acknowledgement procedures were reviewed.",
]


def test_when_pii_free_text_looks_like_these_classes_then_it_passes(detector: Any, policy: GatewayPolicy) -> None:
    assert evasions_passed(detector, policy, LOOKALIKES) == LOOKALIKES
    assert not any(refused_kinds(t, ["encoded"]) for t in LOOKALIKES if "\\x" not in t)
