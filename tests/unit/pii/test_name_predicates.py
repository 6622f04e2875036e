"""The fifth round of name cues (issue 18): what is said of a person in notes people write: traits, leave, a
career step, clinical and court records, HR records, a meeting's roll and actions, coordination with "I", a role
in apposition; and the teams, companies, products and places the same frames must not read as a name."""

from __future__ import annotations

import pytest

from gateway.pii.name_cues import cue_spans, name_spans

STOP = frozenset(
    {"the", "a", "i", "and", "to", "at", "for", "is", "not", "on", "of", "or", "all", "in", "was", "why", "so", "it",
     "she", "he", "we", "none"}
)  # fmt: skip


def names(text: str) -> list[str]:
    return sorted({text[s:e] for s, e in name_spans(text, STOP)})


def weak_names(text: str) -> set[tuple[str, bool]]:
    return {(text[s:e], weak) for s, e, weak in cue_spans(text, STOP)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Why is Marisol so stubborn?", ["Marisol"]),  # a trait of character, asked
        ("honestly Dmitri is always so moody in the mornings", ["Dmitri"]),
        ("Agnes's so shy around new people.", ["Agnes"]),
        ("Yusuf is off sick today, back Monday.", ["Yusuf"]),  # away from work
        ("Lena Park will be on maternity leave from June.", ["Lena Park"]),
        ("Tom Baxter is out of office until the 4th.", ["Tom Baxter"]),
        ("Ingrid spent six years at a law firm before joining.", ["Ingrid"]),  # a career step
        ("Rosa Delgado worked as a paralegal in Austin.", ["Rosa Delgado"]),
        ("Kwame was promoted to team lead in March.", ["Kwame"]),
        ("Ferreira complains of headaches for two weeks.", ["Ferreira"]),  # a clinical record
        ("Joan Whitfield is a 67-year-old female with COPD.", ["Joan Whitfield"]),
        ("Hollis denies chest pain or fever.", ["Hollis"]),
        ("Hollis was discharged home on day three.", ["Hollis"]),
        ("At trial Abernathy testified that he saw the car.", ["Abernathy"]),  # a court record
        ("Curtis Vance was sentenced to two years.", ["Curtis Vance"]),
        ("Performance review for Bianca Sousa: exceeds expectations.", ["Bianca Sousa"]),  # an HR record
        ("Exit interview - Oskar Lind", ["Oskar Lind"]),
        ("Present: Hana Ito, Raúl Medina", ["Hana Ito"]),  # a meeting's roll (the list grows in ``ner``)
        ("Action: Priya to circulate the draft by Friday.", ["Priya"]),
        ("Minutes taken by Greta Holm.", ["Greta Holm"]),
        ("Soren chaired the meeting.", ["Soren"]),
        ("Kimberly from HR will reach out to you.", ["Kimberly"]),  # one of a company's people
        ("Nadia has two kids and a dog.", ["Nadia"]),  # what a person has
        ("Kim reports to the head of credit.", ["Kim"]),
        ("The name on the card is wrong, please change it to Shane Jones.", ["Shane Jones"]),  # a new name
        ("Please correct my name to Ana Ruiz.", ["Ana Ruiz"]),
        ("hey is Farah still mad at me", ["Farah"]),
    ],
)
def test_when_a_person_is_described_then_the_name_is_found(text: str, expected: list[str]) -> None:
    found = names(text)
    assert all(name in found for name in expected), found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mia and I will present on Thursday.", ("Mia", True)),  # coordination with the speaker
        ("me and Ravi went to the beach", ("Ravi", True)),
        ("Tobias and his wife moved to Leeds.", ("Tobias", True)),
        ("The deceased, Carla Mendes, left no will.", ("Carla Mendes", True)),  # a role in apposition
        ("Please welcome our new hire, Ada Quinn.", ("Ada Quinn", True)),
        ("Ask for Marguerite, she is great!", ("Marguerite", True)),  # a review's subject
        ("Tom at the front desk was rude.", ("Tom", True)),
        ("did Farah ever reply to you?", ("Farah", True)),  # a question about someone
        ("Bram to follow up with the vendor.", ("Bram", True)),  # an action line in minutes
        ("The workshop was hosted by Imani Cole.", ("Imani Cole", True)),
        ("Reassigned from Bea to Otto.", ("Bea", True)),
        ("Left a voicemail for Cyrus.", ("Cyrus", True)),
        ("Maybe it's under Andrea Valdez", ("Andrea Valdez", True)),  # kept under a person's name
        ('Answer: "Tube Snake Boogie" by Amber Sutton', ("Amber Sutton", True)),  # a quoted work's author
        ("as regular commenter Holly Maldonado points out", ("Holly Maldonado", True)),
        ("Lior wondered why the call dropped.", ("Lior", True)),
    ],
)
def test_when_a_weak_frame_holds_a_name_then_it_is_a_weak_cue(text: str, expected: tuple[str, bool]) -> None:
    assert expected in weak_names(text)


@pytest.mark.parametrize(
    "text",
    [
        "Why is Kubernetes so slow to start?",  # a product's trait is not a person's
        "Excel is single-threaded here.",
        "Lisbon is lovely in spring.",
        "Jira is kind of slow today.",
        "Finance is off sick? No, Finance is on leave from the project.",  # a department is never a name
        "Contoso spent two years in court before settling.",
        "Contoso is a 120-year-old company.",
        "Acme underwent a restructuring in 2019.",
        "Action: Circulate the draft by Friday.",  # an action item that opens with its verb
        "Apologies: None",
        "Performance review template attached.",
        "Present: Finance, Legal and Payroll",
        "Windows was retired last year.",
        "Reassigned from IT Support to Marketing.",  # a verb that opens the line, before "to"
        "Please change it to Excel.",  # "it" is no name unless a name was spoken of
        "Contoso has two subsidiaries.",
        "Globex was promoted to gold partner.",  # a tier, not a job title
        "Northwind complains of slow payments.",  # not a symptom
    ],
)
def test_when_a_team_product_or_place_takes_the_frame_then_no_name_is_found(text: str) -> None:
    assert names(text) == []
