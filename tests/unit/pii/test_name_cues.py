"""The cues around names find the name, and only capitalized words that are not stop words or calendar words."""

from __future__ import annotations

import pytest

from gateway.pii.name_cues import name_spans

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
