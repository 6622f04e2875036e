"""Recognizer-level checks of the card, phone and identifier rules (no spaCy; the HTTP tests run the real stack)."""

from __future__ import annotations

import pytest

from gateway.pii.cards import CardRecognizer, best_card, card_score, scheme_of
from gateway.pii.checksums import iban_ok, nhs_ok
from gateway.pii.identifiers import IbanRecognizer, UkNhsRecognizer, phone_written
from gateway.pii.phones import distinct_regions

# One Luhn-valid number per scheme and length (Faker's generator and the schemes' published test numbers).
CARDS = {
    "visa13": "4222222222222", "visa16": "4111111111111111", "visa19": "4716736540914588254",
    "mastercard": "5555555555554444", "mastercard2": "2221000000000009", "amex": "378282246310005",
    "discover": "6011111111111117", "diners": "30569309025904", "jcb": "3530111333300000",
    "jcb15_2131": "213112345678909", "jcb15_1800": "180012345678907", "maestro12": "501812345678",
    "maestro19": "6759649826438453003", "unionpay": "6200000000000005", "mir": "2200123456789019",
}  # fmt: skip


def _luhn_fix(body: str) -> str:
    for d in "0123456789":
        if card_score(body + d) is not None:
            return body + d
    raise AssertionError(body)


@pytest.mark.parametrize("name", sorted(CARDS))
def test_when_a_scheme_number_is_luhn_valid_then_it_is_a_card(name: str) -> None:
    number = CARDS[name] if card_score(CARDS[name]) is not None else _luhn_fix(CARDS[name][:-1])
    assert scheme_of(number) is not None
    assert card_score(number) in (1.0, 0.45)


def test_when_a_luhn_valid_number_is_in_no_range_then_it_needs_context() -> None:
    assert card_score(_luhn_fix("90000000000000")) == 0.2
    assert card_score("4111111111111112") is None  # Luhn fails


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        ("4111 1111 1111 1111 123", "4111 1111 1111 1111"),  # CVV after the number
        ("3782 822463 10005", "3782 822463 10005"),  # Amex 4-6-5
        ("4834 7285 5689 8329 826", "4834 7285 5689 8329 826"),  # 4-4-4-4-3 (a Faker visa19)
    ],
)
def test_when_a_card_is_followed_by_more_digits_then_the_card_is_cut_at_its_group(run: str, expected: str) -> None:
    found = best_card(run)
    assert found is not None and run[: found[0]] == expected


def test_when_a_digit_run_is_longer_than_19_digits_then_it_is_not_a_card() -> None:
    assert CardRecognizer().analyze("USPS tracking 9400 1000 0000 0000 0000 00 shipped", ["CREDIT_CARD"]) == []


def test_when_iban_is_valid_in_any_registry_country_then_it_is_found() -> None:
    valid = ("GB82 WEST 1234 5698 7654 32", "DE89370400440532013000", "NO9386011117947", "IT60X0542811101000000123456")
    for iban in valid:
        assert iban_ok(iban), iban
    assert not iban_ok("GB82 WEST 1234 5698 7654 33")
    text = "Wire to GB82 WEST 1234 5698 7654 32 today"
    found = [text[r.start : r.end] for r in IbanRecognizer().analyze(text, ["IBAN_CODE"])]
    assert found == ["GB82 WEST 1234 5698 7654 32"]


def test_when_an_italian_check_letter_was_read_as_a_digit_then_the_iban_still_validates() -> None:
    assert iban_ok("IT85I8244757710465634148396") and iban_ok("IT8518244757710465634148396")


def test_when_nhs_check_digit_is_right_then_nhs_number_validates() -> None:
    assert nhs_ok("943 476 5919") and not nhs_ok("943 476 5918")


def nhs_found(text: str) -> list[str]:
    return [text[r.start : r.end] for r in UkNhsRecognizer().analyze(text, ["UK_NHS"])]


@pytest.mark.parametrize(
    "text",
    [
        "Call the clinic at +1-473-845-3157x997 tomorrow.",  # issue 18: blocked as an NHS number beside "clinic"
        "hospital switchboard +44 473 845 3157",
        "hospital desk 001-473-845-3157",
        "clinic 473-845-3157x997",
        "clinic 473 845 3157 ext. 12",
        "clinic 473-845-3157 #12",
    ],
)
def test_when_nhs_shaped_digits_carry_a_country_code_or_an_extension_then_they_are_no_nhs_number(text: str) -> None:
    assert nhs_ok("473-845-3157")  # the check digit alone would make it one
    assert nhs_found(text) == []


@pytest.mark.parametrize("text", ["NHS number 473 845 3157", "patient 473-845-3157, seen today", "(473 845 3157)"])
def test_when_nhs_shaped_digits_stand_alone_then_they_are_still_an_nhs_candidate(text: str) -> None:
    assert nhs_found(text) == [t for t in ("473 845 3157", "473-845-3157") if t in text]


def test_when_a_plus_sign_is_far_before_the_digits_then_they_are_not_read_as_a_phone() -> None:
    text = "+44 ref; NHS 473 845 3157"
    start = text.index("473")
    assert not phone_written(text, start, start + 12)


def test_when_regions_share_a_calling_code_then_one_scan_serves_both() -> None:
    assert distinct_regions(["US", "GB", "DE", "FR", "IN", "CA"]) == ["US", "GB", "DE", "FR", "IN"]
