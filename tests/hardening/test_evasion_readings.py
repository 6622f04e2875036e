"""The fourth round of evasion (issue 17): identifiers a reader reassembles. Each class through the real detector and
the shipped policy, each generated from the class's rule rather than listed, each failing on the code before
``gateway.pii.readings`` and the view's Braille, n-fold escape and number-word folding; PII-free look-alikes stay
unblocked."""

from __future__ import annotations

import asyncio
import base64
from types import SimpleNamespace
from typing import Any

import pytest

from gateway.policy.loader import GatewayPolicy
from tests.hardening.kit import assert_all_blocked, evasions_passed

pytestmark = pytest.mark.slow

SSN = ["536", "90", "4721"]
CARD = ["4539", "1488", "0343", "6467"]
IBAN = ["GB82", "WEST", "1234", "5698", "7654", "32"]
ENGLISH = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
FOREIGN = {
    "es": ["cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve"],
    "fr": ["z\u00e9ro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf"],
    "de": ["null", "eins", "zwei", "drei", "vier", "f\u00fcnf", "sechs", "sieben", "acht", "neun"],
}
BRAILLE = "\u281a\u2801\u2803\u2809\u2819\u2811\u280b\u281b\u2813\u280a"  # cells j, a..i: 0, 1..9 after U+283C


@pytest.mark.parametrize("groups", [SSN, CARD], ids=["ssn", "card"])
def test_when_single_letters_separate_the_groups_then_the_identifier_is_blocked(
    detector: Any, policy: GatewayPolicy, groups: list[str]
) -> None:
    assert_all_blocked(detector, policy, [letter.join(groups) for letter in "xXkqz"] + [f"id {'x'.join(groups)} ok"])


@pytest.mark.parametrize("groups", [SSN, CARD], ids=["ssn", "card"])
def test_when_words_separate_the_groups_then_the_identifier_is_blocked(
    detector: Any, policy: GatewayPolicy, groups: list[str]
) -> None:
    fillers = ["apple", "banana cake", "and then", "| x |", "\n- ", " (see) "]
    texts = []
    for filler in fillers:
        gaps = [f" {filler} " for _ in groups[1:]]
        texts.append(groups[0] + "".join(g + v for g, v in zip(gaps, groups[1:], strict=True)))
    texts.append("| " + " | note |\n| ".join(groups) + " | end |")  # one group per table cell
    assert_all_blocked(detector, policy, texts)


TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]


def _hundreds(group: str) -> str:
    """A group read aloud with hundreds and thousands (computed here, not by the code under test); a leading zero
    is said as ``zero``."""
    n, words = int(group), ["zero"] if group.startswith("0") else []
    for scale, name in ((1000, "thousand"), (100, "hundred")):
        if n >= scale:
            words += [ENGLISH[n // scale], name]
            n %= scale
    if 10 <= n < 20:
        words.append(TEENS[n - 10])
    elif n >= 20:
        words.append(TENS[n // 10] + (f"-{ENGLISH[n % 10]}" if n % 10 else ""))
    elif n:
        words.append(ENGLISH[n])
    return " ".join(words)


def test_when_groups_are_spelled_with_hundreds_and_thousands_then_the_identifier_is_blocked(
    detector: Any, policy: GatewayPolicy
) -> None:
    ssn = " ".join(_hundreds(g) for g in SSN)
    assert ssn == "five hundred thirty-six ninety four thousand seven hundred twenty-one"
    card = ", ".join(_hundreds(g) for g in CARD)
    assert_all_blocked(detector, policy, [ssn, f"my number is {ssn}.", card, ssn.replace("-", " ")])


@pytest.mark.parametrize("language", sorted(FOREIGN))
def test_when_digits_are_words_of_another_language_then_the_identifier_is_blocked(
    detector: Any, policy: GatewayPolicy, language: str
) -> None:
    words = FOREIGN[language]
    card = " ".join(words[int(c)] for c in "".join(CARD))
    ssn = "ssn " + " ".join(words[int(c)] for c in "".join(SSN))  # a bare nine digits needs its context word
    assert_all_blocked(detector, policy, [card, ssn])


@pytest.mark.parametrize("override", ["\u202e", "\u202d\u202e", "\u2067\u202e"])
def test_when_digits_sit_under_a_right_to_left_override_then_they_are_read_in_display_order(
    detector: Any, policy: GatewayPolicy, override: str
) -> None:
    texts = [override + "-".join(SSN)[::-1] + "\u202c"]  # cards read backwards are not looked for (docs)
    texts.append(f"IBAN {override}{' '.join(IBAN)[::-1]}\u202c")
    texts.append("reversed: " + "-".join(SSN)[::-1])
    assert_all_blocked(detector, policy, texts)


def test_when_digits_are_written_in_braille_then_the_identifier_is_blocked(
    detector: Any, policy: GatewayPolicy
) -> None:
    def braille(group: str) -> str:
        return "\u283c" + "".join(BRAILLE[int(c)] for c in group)

    texts = ["\u2824".join(braille(g) for g in SSN), "\u2800".join(braille(g) for g in CARD), braille("".join(CARD))]
    assert_all_blocked(detector, policy, texts)


TYPED = {"0": "Oo", "1": "Il", "5": "S", "8": "B", "2": "Z"}


def test_when_letters_are_typed_for_digits_then_the_identifier_is_blocked(
    detector: Any, policy: GatewayPolicy
) -> None:
    texts = []
    for digit, letters in TYPED.items():
        for letter in letters:
            card = " ".join(CARD).replace(digit, letter, 1) if digit in "".join(CARD) else None
            ssn = "-".join(SSN).replace(digit, letter, 1) if digit in "".join(SSN) else None
            texts.extend(t for t in (card, ssn) if t is not None and t != " ".join(CARD) and t != "-".join(SSN))
    assert "4S39 1488 0343 6467" in texts and "536-9O-4721" in texts
    assert_all_blocked(detector, policy, texts)


@pytest.mark.parametrize("folds", [2, 3, 4])
def test_when_digits_are_url_escaped_several_times_then_the_identifier_is_blocked(
    detector: Any, policy: GatewayPolicy, folds: int
) -> None:
    def escaped(ch: str) -> str:
        out = f"%{ord(ch):02X}"
        for _ in range(folds - 1):
            out = out.replace("%", "%25")
        return out

    texts = ["".join(escaped(c) for c in "-".join(groups)) for groups in (SSN, CARD)]
    texts.append("&" + "amp;" * (folds - 1) + "#53;36-90-4721")
    assert_all_blocked(detector, policy, texts)


@pytest.mark.parametrize("groups", [SSN, CARD, IBAN], ids=["ssn", "card", "iban"])
def test_when_an_identifier_is_base64_or_hex_encoded_then_it_is_blocked(
    detector: Any, policy: GatewayPolicy, groups: list[str]
) -> None:
    plain = ("-" if groups is SSN else " ").join(groups).encode()
    texts = [base64.b64encode(plain).decode(), base64.urlsafe_b64encode(plain).decode().rstrip("="),
             plain.hex(), "0x" + plain.hex().upper(), f"payload={base64.b64encode(plain).decode()};"]
    assert_all_blocked(detector, policy, texts)


def test_when_pii_free_texts_look_like_these_classes_then_they_are_not_blocked(
    detector: Any, policy: GatewayPolicy
) -> None:
    benign = [
        "Screen 1920x1080x60 at 4.50 each", "Crate 120x80x45 cm, 3 of them, order 55512",
        "Meeting in room 536, floor 90, ext 4721", "Order 12345 shipped in 3 boxes to room 204",
        "Tracking 1Z999AA10123456784 delivered", "build v1.2.3 sha 3f2a9b7c1d4e5f60718293a4b5c6d7e8f9012345",
        "SGVsbG8gd29ybGQsIGhvdyBhcmUgeW91Pw==", "token 0123456789abcdef0123456789abcdef",
        "un deux trois, nous irons au bois", "Part B52 and A380 and 3G and 5S", "Step 1 of 3 takes 20 minutes and 45 s",
        "Versions 10 to 12 and 2024 are supported", "50% off, 25% more, %25 escaped", "a &amp; b &amp;amp; c",
        "one hundred and twenty people came",
    ]
    assert evasions_passed(detector, policy, benign) == benign


def test_when_metadata_values_each_hold_one_group_then_the_document_is_blocked(
    detector: Any, policy: GatewayPolicy
) -> None:
    from gateway.pii.fields import screen_documents

    scope = policy.scope("acme")

    async def detect(texts: list[str], scope: Any) -> list[Any]:
        return list(detector.analyze(texts, [scope] * len(texts)))

    split = SimpleNamespace(id="d1", metadata={"a": "536", "b": "90", "c": "4721"})
    card = SimpleNamespace(id="d2", metadata={f"k{i}": g for i, g in enumerate(CARD)})
    clean = SimpleNamespace(id="d3", metadata={"floor": "3", "room": "204", "year": 2024})
    verdicts = asyncio.run(screen_documents(detect, [split, card, clean], scope, b"k"))
    assert "US_SSN" in verdicts[0].blocked_types and "CREDIT_CARD" in verdicts[1].blocked_types
    assert not verdicts[2].blocked_types


def test_when_number_heavy_texts_hold_groups_and_words_then_they_are_not_read_as_one_identifier(
    detector: Any, policy: GatewayPolicy
) -> None:
    # bench/pii_quality.py's number-heavy set blocked these while a window of groups could split a number
    # (``4086 9724 6461`` + ``2026`` of a date) and while cards were looked for backwards.
    benign = ["Policy number 4086 9724 6461 renews on 2026-03-01.",
              "Transaction reference 126905992763660365 settled overnight.",
              "USPS tracking 4158 5027 2471 4964 1886 93 was delivered.",
              "FedEx tracking 892593123288206 shows the parcel in Memphis."]
    assert evasions_passed(detector, policy, benign) == benign
