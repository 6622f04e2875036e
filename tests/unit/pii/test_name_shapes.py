"""Names beyond ASCII capitals: words in capitals given back their case (offsets unchanged), and e-mail
addresses whose local part spells a name next to them (issue 18)."""

from __future__ import annotations

import re

import pytest

from gateway.pii.name_shapes import LOWER, UPPER, caps_lines, email_named, fold, restore_case

_NAME = re.compile(rf"(?<![\w'-])([{UPPER}][{LOWER}]+(?: [{UPPER}][{LOWER}]+){{0,2}})(?![\w'-])")


@pytest.mark.parametrize(
    ("text", "restored"),
    [
        ("Attn: SAMANTHA GRIMES, Accounts", "Attn: Samantha Grimes, Accounts"),  # a run of two words
        ("Dear Ms NICOLAS, hello", "Dear Ms Nicolas, hello"),  # one word after a title
        ("Dr. CARRO will see you", "Dr. Carro will see you"),
        ("Thanks,\nDUSTIN", "Thanks,\nDustin"),  # after a letter's closing
        ("I forwarded NILO CARRERA's note", "I forwarded Nilo Carrera's note"),  # a possessive after the run
        ("Customer CELESTINO CATALÁN disputes", "Customer Celestino Catalán disputes"),
    ],
)
def test_when_a_name_is_written_in_capitals_then_it_is_given_back_its_case(text: str, restored: str) -> None:
    assert restore_case(text) == restored
    assert len(restore_case(text)) == len(text)


@pytest.mark.parametrize(
    "text",
    [
        "The SSN field and the ATM PIN are masked.",  # acronyms: no vowel in one, none of four letters
        "FABRIKAM SAID THE OUTAGE WAS RESOLVED.",  # a line in capitals is not read as a row of names
        "IMPORTANT NOTICE: RECEPTION CHANGES",
        "Call HR or IT today.",  # single acronyms
        "Plain text with no capitals run.",
    ],
)
def test_when_capitals_are_acronyms_or_a_shouted_line_then_the_text_is_unchanged(text: str) -> None:
    assert restore_case(text) == text


def test_when_a_line_is_mostly_capitals_then_it_is_a_shouted_line() -> None:
    text = "hello there\nPLEASE READ THE POLICY\nok"
    assert [text[s:e] for s, e in caps_lines(text)] == ["PLEASE READ THE POLICY"]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Jessica Oneal <jessica.oneal@example.com>", "Jessica Oneal"),
        ("From: Thérèse Laine <therese.laine@example.fr>", "Thérèse Laine"),  # accents folded
        ("jsmith@example.com (John Smith)", "John Smith"),  # the name after the address, initial + surname
        ("Ana Ruiz, ruiza@example.com", "Ana Ruiz"),  # surname + initial
        ("Write to Mira at mira.k@example.com", "Mira"),  # one word, a local part of two
    ],
)
def test_when_an_address_spells_a_name_beside_it_then_the_name_is_found(text: str, name: str) -> None:
    assert [text[s:e] for s, e in email_named(text, _NAME)] == [name]


@pytest.mark.parametrize(
    "text",
    [
        "Billing Team <billing.team@globex.com>",  # a team's mailbox
        "Contact Support at support@acme.com",
        "Acme <acme@acme.com>",  # one word, a one-word local part: a company as often as a person
        "Jessica Oneal <sales@example.com>",  # the address does not spell her name
    ],
)
def test_when_an_address_does_not_spell_a_person_then_nothing_is_found(text: str) -> None:
    assert email_named(text, _NAME) == []


def test_when_a_word_is_folded_then_accents_and_case_go() -> None:
    assert fold("Thérèse") == "therese" and fold("SÖLZER") == "solzer"
