"""Names through HTTP, sixth pass (issue 18): names in the frames of working text (a chat line's speaker, mail and
invitation headers, calendar notices, "Surname, I.", particles inside a name, reported speech) are redacted; a
label, a team, a product or a company in the same frames is not. Real gateway, model and Presidio."""

from __future__ import annotations

import pytest

from tests.integration.pii_http import analyze, assert_name_redacted, person_spans
from tests.integration.server import GatewayProcess

MODEL = "all-MiniLM-L6-v2"


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("[10:32] Vincenzo: can you send the deck?", "Vincenzo"),  # a chat line's speaker after a time stamp
        ("Emilio Raimondi  9:14 AM\nlooks good to me", "Emilio Raimondi"),  # a speaker over a message
        ("From: Neville Dáid\nSent: Monday, May 5, 2025 9:01 AM\nSubject: fees", "Neville Dáid"),  # a mail header
        ("Required: Esentürk Ertaş; Jane Lê\nOptional: Marijn Kosten", "Esentürk Ertaş"),  # an invitation's list
        ("Organizer: Aurelia Piwek\nRoom 4B", "Aurelia Piwek"),
        ("Sidar Kesküner has invited you to: Budget review @ Thu 2pm", "Sidar Kesküner"),  # a calendar notice
        ("Karlsson, D., Finance", "Karlsson, D."),  # a surname and an initial
        ("Signed, B. de Beer", "B. de Beer"),  # an initial, a particle, a surname
        ("Klaus said Charlotte van Vliet approved it.", "Charlotte van Vliet"),  # a particle inside a name
        ("Assignee: Therese O'Brennan | Priority: High", "Therese O'Brennan"),  # an apostrophe after O
        ("Contact: D. Ó Scollaigh", "D. Ó Scollaigh"),  # an Irish particle
        ("Marek told me the wire cleared.", "Marek"),  # reported speech
        ("A note from Sandra Tuohy: please call back.", "Sandra Tuohy"),  # a note passed on
        ("[12/03/25, 10:32:01] Theodoro: ok, booked", "Theodoro"),  # a chat export (the view kept the name whole)
        ("12/03/2025, 10:32 - Tristan Peron: see you there", "Tristan Peron"),
        ("10:32:01 From Gerfried Schleich to Everyone: slides please", "Gerfried Schleich"),  # a video call's chat
        ("thanks @Alexia Araújo for the fix", "Alexia Araújo"),  # an @-mention
        ("BEGIN:VCARD\nFN:Trevor Barton\nN:Barton;Trevor;;;\nEND:VCARD", "Trevor Barton"),  # a contact card
        ("Signed-off-by: Işin Türk <isin@example.com>", "Işin Türk"),  # a commit's trailer
        ("Last modified by Lidia Semenowicz", "Lidia Semenowicz"),  # who did something to a record
        ("Eliasson, Christer - ext. 4410", "Eliasson, Christer"),  # a directory's line
        ("Logan MacGee mentioned you in a comment.", "Logan MacGee"),  # a notice
        ("Sent from Gelengül's iPhone", "Gelengül"),
        ("Employee Name;Department;Start\nPascal Wiek;Sales;2023-01-05", "Pascal Wiek"),  # a table with a header
    ],
)
def test_when_a_name_stands_in_a_working_text_frame_then_it_is_redacted_whole(
    gateway: GatewayProcess, globex_writer: str, text: str, name: str
) -> None:
    assert_name_redacted(gateway, globex_writer, text, name, MODEL)


@pytest.mark.parametrize(
    "text",
    [
        "Organizer: Contoso Events\nLocation: Room 4B",  # a header's label and a company's events team
        "Sent: Tuesday, March 4, 2025 10:12 AM",  # a header's label is no speaker
        "Invitation: Budget review @ Thu 2pm",
        "Contact: Customer Service",  # a label and a team
        "Outlook has invited you to: Budget review @ Thu 2pm",  # one word: a product sends invitations
        "Thanks, J.",  # a closing and an initial
        "Vendor: Contoso",
        "To: Customer Service; Contoso\nCc: IT Support",  # one word in a header: a mailbox or a company
        # "Last modified by Salesforce": the frame takes no one word after a record's verb (test_name_frames.py), but
        # the md pipeline itself reads that word a person; a product over-redacted, not a name let through.
        "id,name,type\n1041,Contoso,vendor",  # "name" alone, and no column only people have
    ],
)
def test_when_a_label_team_or_product_takes_the_frame_then_no_person_is_found(
    gateway: GatewayProcess, globex_writer: str, text: str
) -> None:
    assert person_spans(analyze(gateway, globex_writer, text), text) == []
