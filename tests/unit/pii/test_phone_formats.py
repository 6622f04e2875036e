"""Phone numbers on the real detector: letters typed for digits, bare numbers, "call" as a phone word, and the
policy's ``phone_regions`` (issue 18). Marked slow: it loads spaCy and Presidio once per session."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.pii.decide import decide, explain
from gateway.pii.normalize import normalize
from gateway.policy.loader import GatewayPolicy, parse_policy

pytestmark = pytest.mark.slow


def phone_redacted(detector: Any, policy: GatewayPolicy, raw: str) -> bool:
    text = normalize(raw)
    scope = policy.scope("t")
    found = explain(text, detector.analyze([text], [scope])[0], scope)
    return any(f.entity_type == "PHONE_NUMBER" and f.outcome == "applied" for f in found)


@pytest.mark.parametrize(
    "raw",
    [
        "registered (258)4\u041e5-6\u041e11 please",  # Cyrillic O for 0 inside parentheses and groups
        "Fax: 536.233.995\u041ex865",  # an O for 0 right before the extension's x
        "at 391.2O3.69OOx6667",  # Latin O typed for 0, two before the x
        "my number is (2l2) 555-0l87",  # l typed for 1
        "They're not answering at 930.850.1496x6706",  # the x6706 once read as a PERSON hid the phone
        "I would like to stop receiving messages to 6702217477",  # bare ten digits, no phone word needed
        "Please have the manager call me at 9554 7601 72",  # "call" is a spaCy stop word: still a phone word
    ],
)
def test_when_a_phone_is_written_with_lookalikes_bare_or_regrouped_then_it_is_redacted(
    presidio: Any, shipped_policy: GatewayPolicy, raw: str
) -> None:
    assert phone_redacted(presidio, shipped_policy, raw), raw


@pytest.mark.parametrize(
    "raw",
    [
        "Order #4615449757 has shipped and will arrive Thursday.",
        "Invoice number 2125550187 was paid in full.",
        "Ticket 8005550199 was escalated to tier 2.",
        "The word Ollie (OOO) lll-OOOO is not a number.",
    ],
)
def test_when_ten_digits_are_labelled_as_a_reference_or_are_letters_then_they_are_no_phone(
    presidio: Any, shipped_policy: GatewayPolicy, raw: str
) -> None:
    assert not phone_redacted(presidio, shipped_policy, raw), raw


def test_when_a_labelled_number_has_a_phone_word_too_then_it_is_a_phone(
    presidio: Any, shipped_policy: GatewayPolicy
) -> None:
    assert phone_redacted(presidio, shipped_policy, "My phone number 2125550187 is new.")


@pytest.mark.parametrize(
    "raw", ["Text my number 9846287346 after six.", "Her number: 2125550187", "our number 2125550187"]
)
def test_when_a_pronoun_makes_the_number_a_persons_then_the_label_does_not_demote_it(
    presidio: Any, shipped_policy: GatewayPolicy, raw: str
) -> None:
    # "number" alone labels a reference ("Invoice number 2125550187"); "my number" is a person's phone.
    assert phone_redacted(presidio, shipped_policy, raw), raw


@pytest.mark.parametrize(
    "raw",
    [
        "He gave me 9306 5308 65 as his home number.",  # regrouped 4-4-2: a person's own number
        "your mobile number: 4592.4134.81",
        "Ring 8087 3684 03 after lunch.",  # phone words: ring, switchboard, hotline, dialled
        "The hotline is 2193 0193 35.",
        "I dialled 7332 6143 64 twice.",
        "Ryan Bennett\n1936 Parks Pike Apt. 652\nJasonhaven, LA 82601\n2507 0617 03",  # a contact block
        "Jennifer Crane\nPSC 5840, Box 9114\nAPO AE 74184\n7252.6744.34\n",
    ],
)
def test_when_regrouped_digits_are_owned_or_near_a_phone_word_then_they_are_a_phone(
    presidio: Any, shipped_policy: GatewayPolicy, raw: str
) -> None:
    assert phone_redacted(presidio, shipped_policy, raw), raw


@pytest.mark.parametrize(
    "raw",
    [
        "The reference text is ISBN 5461113931.",  # "text" is no phone word
        "Batch 9306 5308 65 closed.",  # regrouped digits with no owner and no phone word
        "Their number of orders was 4362.3186.03 units.",  # "number of", not "their number"
        "Ship to Austin, TX 78701\nRef 2507 0617 03",  # under an address, but not a line of its own
        "Austin, TX 78701 2507 0617 03",
    ],
)
def test_when_regrouped_digits_have_no_owner_or_phone_word_then_they_are_no_phone(
    presidio: Any, shipped_policy: GatewayPolicy, raw: str
) -> None:
    assert not phone_redacted(presidio, shipped_policy, raw), raw


GERMAN = "Anna erreichen Sie unter 030 12345678 ab Montag."  # a Berlin number, no English phone word


def regions_policy(regions: str) -> GatewayPolicy:
    return parse_policy(
        f"version: 1\nphone_regions: {regions}\ndefaults:\n  pii:\n    entities:\n"
        "      PHONE_NUMBER: {action: redact, threshold: 0.4}\n".encode(),
        source="p.yaml",
    )


def test_when_the_policy_lists_germany_first_then_a_german_national_number_is_redacted(presidio: Any) -> None:
    from gateway.pii.detector import PresidioDetector

    german_first = regions_policy("[DE, US]")
    assert german_first.phone_regions == ("DE", "US")
    detector = PresidioDetector(policy=german_first)
    assert phone_redacted(detector, german_first, GERMAN)
    us_first = regions_policy("[US, GB]")
    detector.rebuild(us_first)  # a reload swaps the regions in
    assert not phone_redacted(detector, us_first, GERMAN)


@pytest.mark.parametrize(
    "raw",
    [
        "Call the clinic at +1-473-845-3157x997 tomorrow.",  # ten digits pass the NHS check digit
        "The hospital number is 001-473-845-3157.",
        "hospital phone 473-845-3157x997",
    ],
)
def test_when_a_phone_with_a_country_code_or_extension_is_near_a_health_word_then_it_is_redacted_not_blocked(
    presidio: Any, shipped_policy: GatewayPolicy, raw: str
) -> None:
    text = normalize(raw)
    scope = shipped_policy.scope("t")
    found = presidio.analyze([text], [scope])[0]
    assert phone_redacted(presidio, shipped_policy, raw), raw
    assert not decide(text, found, scope, b"k").blocked, raw


def test_when_an_nhs_number_is_written_alone_near_its_word_then_it_still_blocks(
    presidio: Any, shipped_policy: GatewayPolicy
) -> None:
    text = normalize("Patient NHS number 473 845 3157 on file.")
    scope = shipped_policy.scope("t")
    assert decide(text, presidio.analyze([text], [scope])[0], scope, b"k").blocked_types == ("UK_NHS",)


@pytest.mark.parametrize(
    ("raw", "phones"),
    [
        ("+1-572-874-9207, 001-869-572-0119x77679", ["+1-572-874-9207", "001-869-572-0119x77679"]),
        ("479-32\n4-9190\n53754 Michelle Place\nAmychester, DC 33839", ["479-32\n4-9190"]),
        ("Brenda Aguirre\nReeves LLC\n487 755 9645x72310\ngina@example.org", ["487 755 9645x72310"]),
        ("Chad Crosby\nLindafurt, DE 73844\n2186386975", ["2186386975"]),
    ],
)
def test_when_phones_stand_in_lists_and_contact_blocks_then_each_is_found_whole(
    presidio: Any, shipped_policy: GatewayPolicy, raw: str, phones: list[str]
) -> None:
    text = normalize(raw)
    scope = shipped_policy.scope("t")
    found = explain(text, presidio.analyze([text], [scope])[0], scope)
    spans = [text[f.start : f.end] for f in found if f.entity_type == "PHONE_NUMBER" and f.outcome == "applied"]
    assert spans == phones, found
