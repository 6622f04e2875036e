"""The sixth round of name cues (issue 18): names in the frames of working text (chat lines, mail and invitation
headers, calendar notices, one-to-ones, "Surname, I.", reported speech, notes passed on), particles inside a
name, and the labels, teams and products the same frames must not read as a name."""

from __future__ import annotations

import pytest

from gateway.pii.name_cues import cue_spans, name_spans
from gateway.pii.name_frames import frame_spans
from gateway.pii.ner import name_part

STOP = frozenset({"the", "a", "i", "and", "to", "at", "for", "is", "me", "us", "as", "from", "on", "you", "it"})


def names(text: str) -> list[str]:
    return sorted({text[s:e] for s, e in name_spans(text, STOP)})


def strength(text: str) -> set[tuple[str, bool]]:
    return {(text[s:e], weak) for s, e, weak in cue_spans(text, STOP)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[10:32] Vince: can you send the deck?", ["Vince"]),  # a chat line's speaker after a time stamp
        ("[10:32 AM] Emilio Raimondi: running late", ["Emilio Raimondi"]),
        ("[2025-03-04 09:02] Mara: morning\n[09:03] Antonio: coffee?", ["Antonio", "Mara"]),
        ("Emilio Raimondi  9:14 AM\nlooks good to me", ["Emilio Raimondi"]),  # a speaker over a message
        ("From: Neville Dáid\nSent: Monday\nTo: Ana Ruiz", ["Ana Ruiz", "Neville Dáid"]),  # mail headers
        ("To: Valerio Pertini; Tobiasz Świerad\nCc: Ida Kos", ["Ida Kos", "Tobiasz Świerad", "Valerio Pertini"]),
        ("> From: Ana Ruiz <ana@example.com>", ["Ana Ruiz"]),  # quoted in a reply
        ("Organizer: Aurelia Piwek\nAttendees: Thibaut Jean, Ana Ruiz", ["Ana Ruiz", "Aurelia Piwek", "Thibaut Jean"]),
        ("Sidar Kaya has invited you to: Budget review", ["Sidar Kaya"]),  # calendar notices
        ("Ruth Howarth accepted this invitation.", ["Ruth Howarth"]),
        ("Tess Lind joined the meeting.", ["Tess Lind"]),
        ("Invitation: 1:1 Logan / Jane @ Wed 10am", ["Jane", "Logan"]),  # a one-to-one's pair
        ("Karlsson, D., Finance", ["Karlsson, D."]),  # a surname and initials
        ("Joly, A. M. (2019) wrote the survey.", ["Joly, A. M."]),
        ("Signed, B. de Beer", ["B. de Beer"]),  # an initial, a particle, a surname
        ("Assigned to: Eduardo Borges\nStatus: Open", ["Eduardo Borges"]),  # a ticket's label with a colon
        ("Contact: M. Fuster", ["M. Fuster"]),
        ("Marek told me the wire cleared.", ["Marek"]),  # reported speech
        ("As Märta Sjöstrand put it, we are out of time.", ["Märta Sjöstrand"]),
        ("A note from Sandra Tuohy: please call back.", ["Sandra Tuohy"]),  # a note passed on
        ("12/03/2025, 10:32 - Tristan Peron: see you there", ["Tristan Peron"]),  # a phone's chat export
        ("12-03-2025-10:32-Tristan Peron: see you", ["Tristan Peron"]),  # the same in the detection view
        ("10:32:01 From Ana Ruiz to Everyone: can you hear me?", ["Ana Ruiz"]),  # a video call's chat
        ("thanks @David Villegas for the fix", ["David Villegas"]),  # an @-mention
        ("BEGIN:VCARD\nFN:Trevor Barton\nN:Barton;Trevor;;;\nEND:VCARD", ["Barton", "Trevor", "Trevor Barton"]),
        ("Co-authored-by: Işin Türk <iin@example.com>", ["Işin Türk"]),  # a commit's trailer
        ("Last modified by Lidia Semenowicz", ["Lidia Semenowicz"]),  # who did something to a record
        ("Borges, Eduardo - ext. 4410", ["Borges, Eduardo"]),  # a directory's line
        ("Simona Bednář liked your photo.", ["Simona Bednář"]),  # a notice
        ("Dalibor Strnad (Guest) joined the meeting", ["Dalibor Strnad"]),
        ("Sent from Ulf's iPhone", ["Ulf"]),
        ("Hi team, Nils here.", ["Nils"]),
        ("first_name,last_name,email\nAna,Ruiz,ana@example.com", ["Ana", "Ruiz"]),  # a table's header says so
        ("Employee Name;Department;Start\nAna Ruiz;Sales;2023-01-05", ["Ana Ruiz"]),
        ('name,email\n"Ana Ruiz",a@example.com\nTom Lee,t@example.com', ["Ana Ruiz", "Tom Lee"]),
    ],
)
def test_when_a_name_stands_in_a_working_text_frame_then_the_cues_find_it(text: str, expected: list[str]) -> None:
    assert names(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Charlotte van Vliet said hello.", ["Charlotte van Vliet"]),  # Dutch particles
        ("Lotte van 't Riet said hello.", ["Lotte van 't Riet"]),
        ("Mehmet van de Klashorst said hello.", ["Mehmet van de Klashorst"]),
        ("Benício da Cunha said hello.", ["Benício da Cunha"]),
        ("Gabrielle Ó Lása said hello.", ["Gabrielle Ó Lása"]),  # an Irish particle, and as the view reads it
        ("Gabrielle O Lása said hello.", ["Gabrielle O Lása"]),
        ("Therese O'Brennan said hello.", ["Therese O'Brennan"]),  # an apostrophe right after the capital
        ("Logan MacGee said hello.", ["Logan MacGee"]),  # a capital inside after Mc, Mac, Fitz
        ("Ruth McAllister said hello.", ["Ruth McAllister"]),
        ("Ortega y Gasset said hello.", ["Ortega y Gasset"]),
    ],
)
def test_when_a_name_holds_a_particle_then_the_whole_name_is_found(text: str, expected: list[str]) -> None:
    assert names(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@Astrid can you check?", {("Astrid", True)}),  # one word: a bot is mentioned too
        ("Marek told me the news.", {("Marek", True)}),  # a company tells us things too
        ("Invitation: 1:1 Logan / Jane", {("Logan", True), ("Jane", True)}),
        ("Hi team, Nils here.", {("Nils", True)}),
    ],
)
def test_when_a_company_could_take_the_frame_then_the_cue_is_weak(text: str, expected: set[tuple[str, bool]]) -> None:
    assert strength(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Organizer: Contoso Events\nAttendees: Treasury, Payroll",  # a label, an events team, departments
        "Sent: Tuesday, March 4, 2025 10:12 AM",  # a header's label is no speaker
        "Invitation: Budget review @ Thu 2pm",
        "Required: Finance; Legal\nOptional: Payroll",
        "Vendor: Contoso",
        "Contact: Customer Service",
        "Reply-To: Billing Team <billing@contoso.com>",
        "Outlook has invited you to: Budget review",  # one word: a product sends invitations
        "Dependabot joined the channel.",
        "Thanks, J.",  # a closing and an initial
        "Regards, B., on behalf of the team",
        "Got a message from Jira about the lease.",  # a message: bots send those
        "[10:32] Finance: payroll is closed",  # a department in a chat line
        "Signed, J. Cannan",  # not "Signed, J." as a surname and an initial
        "To: Contoso\nSubject: renewal",  # one word in a header: a mailbox or a company
        "Signed-off-by: Dependabot <support@github.com>",
        "Last modified by Salesforce",  # one word after a record's verb: a product
        "Recording started by Outlook.",
        "id,name,type\n1041,Contoso,vendor",  # "name" alone, and no column only people have
        "product_name,price\nWidget Pro,12.50",
        "Author: Jira <support@fabrikam.com>",
        "@channel can you check?",
    ],
)
def test_when_a_label_team_or_product_takes_the_frame_then_no_wrong_name_is_found(text: str) -> None:
    found = names(text)
    assert all(not name.startswith(("Organizer", "Sent", "Invitation", "Vendor", "Contact", "Reply", "Signed",
                                    "Thanks", "Regards")) for name in found), found  # fmt: skip
    assert not {"Contoso", "Treasury", "Payroll", "Finance", "Legal", "Outlook", "Dependabot", "Jira", "Salesforce",
                "Customer Service", "Billing Team", "Contoso Events", "Widget Pro", "Author", "Channel",
                "Signed-off-by"} & set(found), found  # fmt: skip


def test_when_the_frames_have_no_marker_then_nothing_is_scanned() -> None:
    assert frame_spans("Plain prose with Capitalized Words and no frame at all") == []


def test_when_the_model_reads_the_next_header_line_into_a_name_then_the_name_ends_at_the_line_break() -> None:
    assert name_part("Barbora Sedláčková\nSubject") == len("Barbora Sedláčková")
    assert name_part("Ana Ruiz x6706") == len("Ana Ruiz")


def test_when_a_table_has_no_header_line_then_its_rows_are_not_read_as_names() -> None:
    assert [e for *_, e in frame_spans("Ana Ruiz,Sales\nTom Lee,Legal") if e is False] == []
