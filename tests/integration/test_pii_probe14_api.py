"""Names through HTTP, the outside probe (names14): a name after a number that ends a sentence or heads a list
item is redacted whole; a greeting before a department and a list's label are no one, and the people after the
label still are. Real gateway, model and Presidio (the default pipeline)."""

from __future__ import annotations

import pytest

from tests.integration.pii_http import analyze, assert_name_redacted, person_spans
from tests.integration.server import GatewayProcess

MODEL = "all-MiniLM-L6-v2"


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Meeting moved to room 12. Chidi Okafor will host.", "Chidi Okafor"),  # the view made it "12.Chidi"
        ("Step 2. Kavya Iyer signs the form.", "Kavya Iyer"),
        ("1. Kavya Iyer (backend)", "Kavya Iyer"),  # a numbered list: only "Iyer" was found
        ("Owners\n1. Pieter de Vries (mobile)\n2. Jade Walker (QA)", "Pieter de Vries"),
        # the other items of a list whose one item is a name: the md pipeline missed the first one
        ("Owners\n1. Thandiwe Dlamini (backend)\n2. Pieter de Vries (mobile)\n3. Jade Walker (QA)", "Thandiwe Dlamini"),
        ("On call this week:\n- Dallas Reed\n- Kwame Mensah\n- Sofia de la Cruz", "Sofia de la Cruz"),
    ],
)
def test_when_a_name_follows_a_number_that_ends_a_sentence_then_it_is_redacted_whole(
    gateway: GatewayProcess, globex_writer: str, text: str, name: str
) -> None:
    assert_name_redacted(gateway, globex_writer, text, name, MODEL)
    assert name in person_spans(analyze(gateway, globex_writer, text), text)


@pytest.mark.parametrize(
    "text",
    ["Dear Legal,\nplease review the NDA.", "Hello Finance - quick one", "Hello Finance,\nthe invoice is late."],
)
def test_when_a_greeting_opens_on_a_department_then_no_person_is_found(
    gateway: GatewayProcess, globex_writer: str, text: str
) -> None:
    assert person_spans(analyze(gateway, globex_writer, text), text) == []


def test_when_a_greeting_opens_on_a_person_then_the_name_is_still_redacted(
    gateway: GatewayProcess, globex_writer: str
) -> None:
    text = "Dear Ms Legaspi,\nplease review the NDA."
    assert_name_redacted(gateway, globex_writer, text, "Legaspi", MODEL)
    assert "Dear" not in " ".join(person_spans(analyze(gateway, globex_writer, text), text))


@pytest.mark.parametrize(
    "text", ["Approvers: Morales, Rocío; Bancroft, Trevor", "Reviewers: Morales, Rocío; Bancroft, Trevor"]
)
def test_when_a_label_heads_a_list_of_people_then_the_label_is_no_one_and_the_people_are(
    gateway: GatewayProcess, globex_writer: str, text: str
) -> None:
    found = person_spans(analyze(gateway, globex_writer, text), text)
    label = text.split(":", 1)[0]
    assert label not in found and {"Rocío", "Bancroft", "Trevor"} <= set(found), found
