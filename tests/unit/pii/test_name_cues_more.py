"""The third round of name cues (issue 18): letter closings, form labels, greetings, roles, job-title lines,
signatures, e-mail addresses that spell the name, accented capitals, names in lower case after the strongest cues,
and a found name's other mentions; and the words that end a team's or a label's name, never a person's."""

from __future__ import annotations

import pytest

from gateway.pii.name_cues import cue_spans, name_spans, repeated

STOP = frozenset({"the", "a", "i", "and", "to", "at", "for", "is", "not", "on", "of", "or", "all"})


def names(text: str) -> list[str]:
    return sorted({text[s:e] for s, e in name_spans(text, STOP)})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thanks,\nDustin", ["Dustin"]),  # a closing with a comma, the name on the next line
        ("Love,\nSigrun", ["Sigrun"]),
        ("All the best,\nAna Ruiz", ["Ana Ruiz"]),
        ("Prepared by: Amber Wells", ["Amber Wells"]),  # a form's label with its colon
        ("Account holder - Henryk Krein", ["Henryk Krein"]),
        ("Beneficiary: Flavia Cignaroli", ["Flavia Cignaroli"]),
        ("Ayten Gute, Head of Risk", ["Ayten Gute"]),  # a name over its job title
        ("Ana Ruiz | Senior Product Manager", ["Ana Ruiz"]),
        ("-- \nFrédéric Courtois\nAcme Corp", ["Frédéric Courtois"]),  # a signature; accented capitals
        ("\u2014 Tina Morales", ["Tina Morales"]),  # an attribution
        ("Jessica Oneal <jessica.oneal@example.com>", ["Jessica Oneal"]),  # the address spells the name
        ("Reach out to Edu Zabala (ezabala@example.com) for details.", ["Edu Zabala"]),  # initial + surname
        ("We need Graeme's signature on page two.", ["Graeme"]),  # what only a person has
        ("Approved by: Émile Marie", ["Émile Marie"]),
        ("my name is john smith and I need help", ["john smith"]),  # lower case after the strongest cues
        ("dear ana, thanks for the update", ["ana"]),
        ("Mr. Łukasz Nowak called", ["Łukasz Nowak"]),
    ],
)
def test_when_a_newer_cue_points_at_a_name_then_it_is_found(text: str, expected: list[str]) -> None:
    assert names(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Good morning Tiffany,", ["Tiffany"]),
        ("Congratulations to Josephine Clarke on the promotion!", ["Josephine Clarke"]),
        ("Borrower German Boucsein missed two payments.", ["German Boucsein"]),
        ("Call Timothy tomorrow.", ["Timothy"]),
        ("Let Sian know.", ["Sian"]),
        ("Interview with Vedant Sama", ["Vedant Sama"]),
        ("c/o Edoardo Fabrizi", ["Edoardo Fabrizi"]),
    ],
)
def test_when_a_weak_newer_cue_points_at_a_word_then_it_waits_for_the_tagger(text: str, expected: list[str]) -> None:
    spans = cue_spans(text, STOP)
    assert sorted({text[s:e] for s, e, _ in spans}) == expected
    assert all(weak for *_, weak in spans)  # "Call Finance", "Welcome Kubernetes": the tagger decides


@pytest.mark.parametrize(
    "text",
    [
        "Dear customer, your statement is ready.",
        "dear valued customer, thank you",  # a role noun after the words: no name
        "dear hiring manager, I apply",
        "Dear colleagues, the office is closed.",
        "my name is not important",
        "Regards,\nThe Reception Team",  # a team's word ends the words
        "Thanks,\nFinance Team",
        "Kind regards,\nInitech LLC",  # a company's word after them
        "Order Number: 4411",  # a label, not a speaker
        "Invoice Number: 88123",
        "Customer Name: see below",
        "Attn: please read",
        "Status: approved",
        "Billing Team <billing.team@globex.com>",  # a team's mailbox
        "Contact Support at support@acme.com",
        "Acme <acme@acme.com>",  # a one-word name needs a local part of two words
        "Please call Dr. Okafor tomorrow",  # the title is no name (Okafor is, through "Dr.")
        "Customer Service, Head of Risk",  # a service's word
    ],
)
def test_when_a_cue_meets_a_team_a_label_or_a_role_then_no_name_is_found(text: str) -> None:
    found = names(text)
    assert found in ([], ["Okafor"]), found


def test_when_a_name_is_found_then_its_other_mentions_are_names_too() -> None:
    text = "Dear Reginald Moss, we met at the bank. Reginald spent a year there; Moss left."
    first = text.index("Reginald Moss")
    spans = repeated(text, [(first, first + len("Reginald Moss"))], STOP)
    assert sorted(text[s:e] for s, e in spans) == ["Moss", "Reginald"]


def test_when_a_found_name_is_a_calendar_word_or_lower_case_elsewhere_then_it_is_not_repeated() -> None:
    assert repeated("Dear April, April is a month.", [(5, 10)], STOP) == []  # a month is never a name alone
    assert repeated("Mr. Ray met ray guns", [(4, 7)], STOP) == []  # lower case is no mention


def test_when_a_found_name_stands_before_a_company_word_elsewhere_then_that_mention_is_the_company() -> None:
    text = "Walter Acme founded Acme Corp; Acme hired him."
    spans = repeated(text, [(0, len("Walter Acme"))], STOP)
    assert [text[s:e] for s, e in spans] == ["Acme"] and spans[0][0] == text.index("Acme hired")
