"""The fourth round of name cues (issue 18): what only a person does or goes through, an age in apposition, the
speaker after a quotation, a relative "who", a contact list's line, surname-first form entries, and more of what
only a person has; and the phone-line and label words that are never a name."""

from __future__ import annotations

import pytest

from gateway.pii.name_cues import cue_spans, name_spans

STOP = frozenset({"the", "a", "i", "and", "to", "at", "for", "is", "not", "on", "of", "or", "all", "in", "was"})


def names(text: str) -> list[str]:
    return sorted({text[s:e] for s, e in name_spans(text, STOP)})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("After the speech, Marco Diaz smiled and left.", ["Marco Diaz"]),  # what only a person does
        ("Tamsin was born in Leeds in 1961.", ["Tamsin"]),  # what only a person goes through
        ("Everyone knows Okafor passed away last spring.", ["Okafor"]),
        ("It may be that Ingrid was influenced by an earlier song.", ["Ingrid"]),
        ("In 1990 Mateo studied law in Madrid.", ["Mateo"]),
        ("Honestly Riley is the best coworker ever.", ["Riley"]),  # a role only a person has
        ("Is Kendra still dating Marcus?", ["Marcus"]),  # what only a person is to another
        ("We're naming the baby Juniper.", ["Juniper"]),
        ("omg Talia just got engaged!!", ["Talia"]),
        ("Brian Keller, 41, of Denver was arrested.", ["Brian Keller"]),  # an age in apposition
        ("Nadia Osei (34) won the race.", ["Nadia Osei"]),
        ("Nadia's dog barked all night.", ["Nadia"]),  # what only a person has, more of it
        ("I love Priya's hair.", ["Priya"]),
        ('"It is over," Hannah Bloom explained.', ["Hannah Bloom"]),  # the speaker after a quotation
        ("Emily Ellis 212-555-0187", ["Emily Ellis"]),  # a contact list's line: name, then phone
        ("Sam Ortiz: (415) 555-0134\nRosa Lind, rosa.l@example.org", ["Rosa Lind", "Sam Ortiz"]),
        ("Participants: Okafor, Chidi", ["Okafor, Chidi"]),  # surname first after a label for people
        ("Guest name: Lindqvist, Maja.", ["Lindqvist, Maja"]),
    ],
)
def test_when_a_fourth_round_cue_points_at_a_name_then_it_is_found(text: str, expected: list[str]) -> None:
    found = names(text)
    assert all(name in found for name in expected), found


def test_when_a_relative_who_follows_a_capitalized_word_then_it_is_a_weak_cue() -> None:
    text = "We saw Danielle, who lives next door."
    assert {(text[s:e], weak) for s, e, weak in cue_spans(text, STOP)} == {("Danielle", True)}


@pytest.mark.parametrize(
    "text",
    [
        "Toll Free 800-555-0100",  # a phone line's words, not a person
        "Sales Hotline: 800-555-0199",
        "Customer Care 212-555-0100",
        "Client: Globex, Initech",  # a client is as often a company: no surname-first reading
        "Participants: 12, Absent: 3",
        "The board laughed off the proposal.",  # "board" is a group's word
        "Order 2, 2024-05-01 shipped.",
    ],
)
def test_when_a_phone_line_or_a_group_stands_where_a_fourth_round_cue_looks_then_no_name_is_found(text: str) -> None:
    assert [n for n in names(text) if n not in ("Globex", "Initech")] == []


def test_when_the_next_sentence_starts_with_he_or_she_then_the_opening_name_is_a_weak_cue() -> None:
    text = "Reginald took a job at Acme as an intern. He then moved to Boston."
    assert {(text[s:e], weak) for s, e, weak in cue_spans(text, STOP)} == {("Reginald", True)}
    assert cue_spans("Finance spent the budget early. They then asked for more.", STOP) == []


@pytest.mark.parametrize(
    ("text", "name"),
    [("Looping in Priyanka who owns the migration.", "Priyanka"), ("Adding Mireille to the thread.", "Mireille")],
)
def test_when_someone_is_looped_in_or_added_then_the_name_is_a_weak_cue(text: str, name: str) -> None:
    assert (name, True) in {(text[s:e], weak) for s, e, weak in cue_spans(text, STOP)}


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Thanks to Connor for the recommendation!", "Connor"),  # thanks, tributes, dedications (weak)
        ("She dedicated the song to Traci.", "Traci"),
        ("We miss you, Amanda.", "Amanda"),  # addressed after "you"
        ("My grandmother Crystal used to sing this.", "Crystal"),
    ],
)
def test_when_a_thanks_dedication_or_family_word_stands_before_a_name_then_it_is_a_weak_cue(
    text: str, name: str
) -> None:
    assert (name, True) in {(text[s:e], weak) for s, e, weak in cue_spans(text, STOP)}


@pytest.mark.parametrize(
    "text",
    ["Thanks to Finance for the quick turnaround!", "Shout out to Legal for the review.", "Hi Payroll, quick one.",
     "Looping in Procurement on this."],
)
def test_when_a_department_stands_where_a_name_would_then_no_name_is_found(text: str) -> None:
    assert names(text) == []
