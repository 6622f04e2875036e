"""Names through HTTP, fifth pass (issue 18): what is said of a person in the notes people write (a trait, leave,
a career step, a clinical or court record, an HR record, a meeting's roll, one of a company's people, a name
change) is redacted; a product, a company or a team in the same frames is not. Real gateway, model and Presidio."""

from __future__ import annotations

import pytest

from tests.integration.pii_http import analyze, assert_name_redacted, person_spans
from tests.integration.server import GatewayProcess

MODEL = "all-MiniLM-L6-v2"


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Why is Marisol so stubborn?", "Marisol"),  # a trait of character
        ("Yusuf is off sick today, back Monday.", "Yusuf"),  # away from work
        ("Ingrid spent six years at a law firm before joining.", "Ingrid"),  # a career step
        ("Joan Whitfield is a 67-year-old female with COPD.", "Joan Whitfield"),  # a clinical record
        ("At trial Abernathy testified that he saw the car.", "Abernathy"),  # a court record
        ("Performance review for Bianca Sousa: exceeds expectations.", "Bianca Sousa"),  # an HR record
        ("Action: Priya to circulate the draft by Friday.", "Priya"),  # a meeting's actions
        ("Kimberly from HR will reach out to you.", "Kimberly"),  # one of a company's people
        ("The name on the card is wrong, please change it to Shane Jones.", "Shane Jones"),  # a name change
        ("Nadia has two kids and a dog.", "Nadia"),  # what a person has
    ],
)
def test_when_a_person_is_described_then_the_name_is_redacted(
    gateway: GatewayProcess, globex_writer: str, text: str, name: str
) -> None:
    assert_name_redacted(gateway, globex_writer, text, name, MODEL)


@pytest.mark.parametrize(
    "text",
    [
        "Excel is kind of slow today.",  # "kind of" is no trait
        "Northwind complains of slow payments.",  # not a symptom
        "Please change it to Excel.",  # "it" is no name unless a name was spoken of
        "Contoso is a 120-year-old company.",  # an age of a company
        "Action: Circulate the draft by Friday.",  # a label and an imperative, no name
        "Reassigned from IT Support to Marketing.",  # a verb that opens the line
        "Globex was promoted to gold partner.",  # a tier, not a job title
    ],
)
def test_when_a_product_company_or_label_takes_the_frame_then_no_person_is_found(
    gateway: GatewayProcess, globex_writer: str, text: str
) -> None:
    assert person_spans(analyze(gateway, globex_writer, text), text) == []
