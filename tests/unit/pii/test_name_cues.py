"""The cues around names find the name, and only capitalized words that are not stop words or calendar words."""

from __future__ import annotations

import pytest

from gateway.pii.name_cues import line_heads, listed_lines, listed_with, name_spans
from gateway.pii.ner import greeting_length, name_part, person_shaped

STOP = frozenset({"the", "a", "i", "and"})


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("My name is Kyle", ["Kyle"]),
        ("Dear April Day, your loan is approved", ["April Day"]),
        ("Please call Dr. Okafor tomorrow", ["Okafor"]),
        ("Kind regards,\nMargaret Thornton", ["Margaret Thornton"]),
        ("Zachary: What a wife.\nTimothy: Remember me", ["Zachary", "Timothy"]),
        ("Name: Troy Scott\nPhone: 873", ["Troy Scott"]),
        ("Please contact Priya Raman at the branch", ["Priya Raman"]),
        ("As promised, here's Jeffery's address:", ["Jeffery"]),
        ("Jason Cross\n\n045 Katherine Plaza\n Suite 387", ["Jason Cross"]),
    ],
)
def test_when_a_cue_precedes_or_follows_a_name_then_the_name_is_found(text: str, names: list[str]) -> None:
    assert [text[s:e] for s, e in name_spans(text, STOP)] == names


@pytest.mark.parametrize(
    "text",
    ["See you on Monday", "Dear Sir", "Send it to The Board", "I am happy", "Date: 2024", "Quarterly Report\nrevenue"],
)
def test_when_the_word_after_a_cue_is_not_a_name_then_nothing_is_found(text: str) -> None:
    assert name_spans(text, STOP) == []


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("She named him Alejandro", ["Alejandro"]),  # named + object pronoun
        ("What's your name? Curtis Gonzales", ["Curtis Gonzales"]),  # the answer to a name question
        ("Bailey is a very sympathetic person.", ["Bailey"]),  # said to be a person
        ("It's under my partner's name Autumn Young", ["Autumn Young"]),  # someone's name X
        ("Her legal name: Dana Whitfield", ["Dana Whitfield"]),
        ("Everyone called her Maya", ["Maya"]),
        ("I'm so jealous! said Eric to Sophia", ["Eric", "Sophia"]),  # said X to Y
        ("we need to add Candace Raymond as guardian", ["Candace Raymond"]),  # a role only a person holds
        ("we need to add Jamie Weeks MD as guardian", ["Jamie Weeks"]),  # a degree after the name
        ("Don't go to town, Elijah!", ["Elijah"]),  # vocative at the end of a sentence
        ("Remember me, Ruben? I was there.", ["Ruben"]),
        ("Carmen, can I please speak to your boss?", ["Carmen"]),  # vocative opening a sentence
        ("Good. Jordan, please send it.", ["Jordan"]),
        ("Christian had given Jon his address", ["Jon", "Christian"]),  # "given X"; a subject with "his"
        ("Follow up with Sara Mills in a couple of months.", ["Sara Mills"]),
        ("have you heard Ana Weiss speak yet?", ["Ana Weiss"]),
        ("Our founders: Berry, Farmer and Mcclain.", ["Berry"]),  # the list's other members: listed_with
        ("Amanda Riley\n\nVisual merchandiser\n\nPersonal Info:\nPhone:\n518-720-8738", ["Amanda Riley"]),
        ("Carol Cervantes PhD\n\nAccountant\n\nE-mail:\nx@example.org", ["Carol Cervantes"]),  # a contact card
        ("\u2022 Heather Cooper\n\u2022 947 Grant Club\n\u2022 Suite 862", ["Heather Cooper"]),  # bulleted block
    ],
)
def test_when_a_newer_cue_surrounds_a_name_then_the_name_is_found(text: str, names: list[str]) -> None:
    assert [text[s:e] for s, e in name_spans(text, STOP)] == names


@pytest.mark.parametrize(
    "text",
    [
        "Unfortunately, we cannot approve it.",  # a sentence adverb before a comma
        "Okay, can you send it?",
        "Great work on the launch, Team!",
        "Acme Holdings\nBoston branch\nPhone lines are being upgraded.",  # "Phone" opens a sentence, no label
        "Quarterly Report\n\nrevenue grew 4%",
        "Globex released its annual report",  # an organization has "its"
        "Python is a very popular language.",
    ],
)
def test_when_a_newer_cue_shape_holds_no_name_then_nothing_is_found(text: str) -> None:
    assert name_spans(text, STOP) == []


@pytest.mark.parametrize(
    ("text", "seed", "members"),
    [
        ("founders: Thomas, Mcintosh and French. The idea", "Mcintosh", ["French", "Thomas"]),
        ("founders: Smith, Rivera and Mills.", "Smith", ["Rivera", "Mills"]),
        ("Smith & Jones wrote it", "Jones", ["Smith"]),
        ("Smith and Company wrote it", "Smith", []),  # a company word is no member
        ("Smith and the board", "Smith", []),
    ],
)
def test_when_a_name_stands_in_a_list_then_its_capitalized_neighbours_are_names(
    text: str, seed: str, members: list[str]
) -> None:
    start = text.index(seed)
    assert [text[s:e] for s, e in listed_with(text, [(start, start + len(seed))], STOP)] == members


@pytest.mark.parametrize(
    ("entity", "shaped"),
    [("Sara Mills", True), ("Jean-Luc Picard", False), ("Goldman Bank", False), ("Bailey", False),
     ("Mary Ann Smith", True), ("IBM Research", False), ("Cook LLC", False),
     # names14: a greeting is no part of a name, and a department is no one ("Dear Legal", "Hello Finance")
     ("Dear Legal", False), ("Hello Finance", False), ("Dear Ms Legaspi", True), ("Hi Sara Mills", True),
     ("Payroll Operations", False)],
)  # fmt: skip
def test_when_the_model_tags_a_name_shaped_org_then_it_counts_as_a_person(entity: str, shaped: bool) -> None:
    assert person_shaped(entity) is shaped


@pytest.mark.parametrize(
    ("entity", "kept"),
    [("x6706", ""), ("Lawrence\n0035", "Lawrence"), ("David Rue Apt. 294", "David Rue Apt."), ("Ann Lee", "Ann Lee")],
)
def test_when_the_model_reads_digits_as_part_of_a_person_then_they_are_cut_off(entity: str, kept: str) -> None:
    assert entity[: name_part(entity)] == kept


@pytest.mark.parametrize(
    ("entity", "length"),
    [("Dear Ms Legaspi", 5), ("Good Morning Sara", 13), ("Hello", 0), ("Sara Mills", 0), ("Dear", 0)],
)
def test_when_an_entity_opens_with_a_greeting_then_its_length_is_skipped(entity: str, length: int) -> None:
    assert greeting_length(entity) == length


@pytest.mark.parametrize(
    ("text", "seed", "members"),
    [
        ("Owners\n1. Thandiwe Dlamini (backend)\n2. Pieter de Vries (mobile)\n3. Jade Walker (QA)", "Jade Walker",
         ["Thandiwe Dlamini", "Pieter de Vries"]),
        ("On call:\n- Sofia de la Cruz\n- Will Baker\n- Kwame Mensah", "Will Baker",
         ["Sofia de la Cruz", "Kwame Mensah"]),
        ("1) Ana Ruiz\n2) Kavya Iyer", "Ana Ruiz", ["Kavya Iyer"]),
        ("1) Ana Ruiz\n- Kavya Iyer", "Ana Ruiz", []),  # another kind of marker: another list
        ("- Ana Ruiz\n\n- Kavya Iyer", "Ana Ruiz", []),  # a blank line between them: two lists
        ("- Ana Ruiz\n- Finance Team\n- see the wiki", "Ana Ruiz", []),  # a team and a note head no name
    ],
)  # fmt: skip
def test_when_a_name_heads_a_list_item_then_the_names_heading_its_other_items_are_listed(
    text: str, seed: str, members: list[str]
) -> None:
    start = text.index(seed)
    assert [text[s:e] for s, e in listed_lines(text, [(start, start + len(seed))], STOP)] == members


def test_when_a_line_starts_with_words_before_a_colon_then_they_are_its_head() -> None:
    text = "Approvers: Morales, Rocio\nVincenzo: ok"
    assert [text[s:e] for s, e in line_heads(text)] == ["Approvers", "Vincenzo"]
