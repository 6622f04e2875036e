"""PERSON in the frames of working text: chat logs and exports, mail, calendar and commit headers, notices,
records, directories, tables with a header, and surnames with an initial.

Sixth pass on names (issue 18), drawn from ``bench/pii_name_frames.py``'s probes (names from fifteen locales in
frames written for it), never from the public holdout:

* a chat line's speaker after a time stamp ("[10:32] Vince: ...", "12/03/2025, 10:32 - Tristan Peron: ..."), over
  a message with its time ("Emilio Raimondi  9:14 AM"), in a video call's chat ("From Ana Ruiz to Everyone:");
  not an IRC line's "<Laura>", which the detection view drops as markup (``evasion.MARKUP``);
* the people a mail, an invitation or a commit is from, to or for ("From:", "To:", "Cc:", "Organizer:",
  "Required:", "Attendees:", "Author:", "Signed-off-by:" at a line's start), a notice about someone ("X has
  invited you to", "X joined the meeting", "X commented on your post"), and who did something to a record ("Last
  modified by X"): two or three words only, since one word there is as often a mailbox, a product or a bot ("To:
  Contoso", "Signed-off-by: Dependabot", "Outlook has invited you", "Last modified by Salesforce");
* an @-mention, "Hi team, X here." (one word: weak), "Sent from X's iPhone", a contact card's ``FN:`` and ``N:``,
  a directory's line ("Borges, Eduardo - ext. 4410"), a surname with its initials ("Karlsson, D.", "Joly, A.
  M."), and the columns of a table whose header names people ("first_name,last_name,email");
* weak, reported speech and notes passed on ("X told me", "as X put it", "a note from X") and a one-to-one's
  pair ("1:1 Logan / Jane").

No list of names: the cue and the shape of a capitalized word (``name_shapes``). Every pattern is bounded and
linear; each runs only where its marker (a colon, a comma or a word of it) is in the text.
"""

from __future__ import annotations

import re

from gateway.pii.name_shapes import LOWER, NAME, PARTICLE, UPPER
from gateway.pii.name_words import NOT_NAMES

_END = r"(?![\w'\u2019-])"
# A clock time in a chat line's stamp: "[10:32]", "[10:32 AM]", "[2025-03-04 10:32:01]".
_CLOCK = r"[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?(?:[ ]?[AaPp]\.?[Mm]\.?)?"
_STAMP = r"\[[^\]\n]{0,16}" + _CLOCK + r"\]"
_CHAT_LINE = re.compile(r"(?m)^[ \t]*" + _STAMP + r"[ \t]*" + NAME + r":[ ]?(?=\S)")
# A phone's chat export: "12/03/2025, 10:32 - Tristan Peron: see you there".
_EXPORT_LINE = re.compile(
    r"(?m)^[ \t]*[0-9][0-9/.,\- ]{5,16}" + _CLOCK + r"[ \t]*[-\u2013][ \t]*" + NAME + r":[ ]?(?=\S)"
)
# A video call's chat: "10:32:01 From Ana Ruiz to Everyone: ...".
_CALL_CHAT = re.compile(
    r"(?i:\bfrom)[ ]{1,2}" + NAME + r"[ ]{1,2}(?i:to)[ ]{1,2}(?i:everyone|all panelists|all|me|host)\b"
)
_SPEAKER_TIME = re.compile(r"(?m)^[ \t]*" + NAME + r"[ \t]+" + _CLOCK + r"[ \t]*(?:\n|$)")
# The labels of a mail's or an invitation's header, at a line's start, then one name or a list of them.
_HEADER = re.compile(
    r"(?im)^[ \t>]*(?:from|to|cc|bcc|reply-to|sender|organi[sz]er|host|attendees?|invitees?|required(?: attendees)?|"
    r"optional(?: attendees)?|author|committer|signed-off-by|co-authored-by|reviewed-by|acked-by|tested-by|"
    r"reported-by|suggested-by)[ \t]*:[ \t]*"
)
_HEADER_NAME = re.compile(NAME + r"(?=[ \t]*(?:[;,<(\n]|$))")
# Possessive and starting after a word only: two blank runs side by side would otherwise split a long run of spaces
# every way there is.
_HEADER_NEXT = re.compile(r"(?<![ \t])[ \t]*+(?:<[^>\n]{0,80}>|\([^)\n]{0,80}\))?+[ \t]*+[;,][ \t]*+")
_HEADER_ITEMS = 8  # names read from one header line
_NOTICE = re.compile(
    NAME + r" (?:has (?:invited you|joined|left)|invited you|(?:has )?(?:accepted|declined|tentatively accepted) "
    r"(?:this|the|your) (?:invitation|meeting|invite)|proposed a new time|joined the (?:channel|chat|call|meeting|"
    r"conversation|group|room)|left the (?:channel|chat|call|meeting|conversation|group|room)|"
    r"liked your|commented on|mentioned you|reacted to|replied to (?:you|your)|tagged you|sent you|"
    r"shared (?:a|an|the|your|this) (?:[a-z]+ )?(?:with you|file|document|folder|link|post)|is presenting|"
    r"started (?:the )?recording|\((?i:guest|external|host|co-host)\) joined)\b"
)
_ONE_TO_ONE = re.compile(
    r"(?i:\b(?:1:1|1-1|1-on-1|1on1|one-on-one|one to one))[ \t:\-]*" + NAME + r"[ \t]*(?:/|<>|&|\+|x|and)[ \t]*" + NAME
    + _END
)  # fmt: skip
# Work a person did on a record: "Last modified by Lidia Semenowicz", "Created by Sükrü Bruder on 3/4/2025".
_DONE_BY = re.compile(
    r"(?i:\b(?:created|modified|last modified|edited|last edited|updated|last updated|uploaded|shared|posted|"
    r"recorded|scheduled|organi[sz]ed|hosted|presented|raised|logged|filed|opened|closed|resolved|started|"
    r"cancell?ed|invited|added|removed|deleted|moved|renamed|checked (?:in|out)|locked|signed) by)[ ]" + NAME + _END
)
# An @-mention ("@Astrid can you check", "thanks @David Villegas"), not an address's domain.
_MENTION = re.compile(r"(?<![\w.+\-@])@" + NAME + _END)
# "Hi team, Allegra here.", and "Sent from Vince's iPhone".
_HERE = re.compile(r"(?i:\b(?:hi|hello|hey|morning|evening)\b)[^.!?\n]{0,24}, " + NAME + r" here\b")
_SENT_FROM = re.compile(
    r"(?i:\bsent from)[ ]" + NAME + r"['\u2019]s (?i:iphone|ipad|phone|android|galaxy|pixel|blackberry|mobile|"
    r"tablet|laptop|device)\b"
)
# A contact card: "FN:Trevor Barton" and its structured "N:Barton;Trevor;;;".
_VCARD_FN = re.compile(r"(?m)^FN(?:;[^:\n]{0,40})?:" + NAME + r"[ \t]*$")
_VCARD_N = re.compile(r"(?m)^N(?:;[^:\n]{0,40})?:" + NAME + r"(?:;" + NAME + r")?;")
# A directory's line, surname first, then an extension or a number: "Borges, Eduardo - ext. 4410".
_DIRECTORY = re.compile(
    rf"(?m)^[ \t]*([{UPPER}][{LOWER}]+(?:['\u2019-][{UPPER}]?[{LOWER}]+)?, {NAME[1:-1]})[ \t]*[-\u2013|:,][ \t]*"
    r"(?=(?i:ext\.?|x|tel\.?|phone|mobile|cell|room)?[ ]?\+?[0-9(])"
)
# "Karlsson, D.", "Joly, A. M.": a surname, a comma and one or two initials (a company takes no initial).
_SURNAME_INITIAL = re.compile(
    rf"(?<![\w'\u2019-])([{UPPER}][{LOWER}]+(?:['\u2019-][{UPPER}]?[{LOWER}]+)?, [{UPPER}]\.(?:[ ]?[{UPPER}]\.)?)"
    rf"(?=[\s,;)]|\Z)(?![ \t]+(?:{PARTICLE}[ ])*[{UPPER}])"
)  # not "Signed, J. Cannan": an initial before a surname is a first name's
# Reported speech and notes passed on; a company or a bot stands there too ("Contoso told us", "a note from
# Contoso"), so weak; not "a message from": bots and products send those ("a message from Jira").
_TOLD = re.compile(NAME + r" (?:told|tells|texted|messaged) (?:me|us)\b")
_PUT_IT = re.compile(r"(?i:\bas)[ ]" + NAME + r" (?:put it|puts it|says|said|likes to say)\b")
_NOTE_FROM = re.compile(
    r"(?i:\b(?:notes?|voicemails?|letters?|cards?|gifts?|flowers|missed calls?) from)[ ]"
    + NAME + _END
)  # fmt: skip
_WORDS = re.compile(r"\S+")
# A letter's closing before an initial is no surname: "Regards, J.", "Thanks, M.".
_CLOSINGS = frozenset(["regards", "cheers", "best", "sincerely", "love", "yours", "signed", "warmly", "thx", "ta",
                       "respectfully", "cordially", "rgds", "br", "kr", "kind", "warm", "bye", "later"])  # fmt: skip


# How a cue's name counts: as it stands; only where the tagger reads a proper noun; strong when it has two or
# three words and weak when one (one word is as often a company, a product or a bot); or only with two words.
_STRONG, _WEAK, _BY_WORDS, _TWO_WORDS = "strong", "weak", "by words", "two words"
# (words one of which the text must hold, lower case; the pattern; how its name counts)
_CUES: tuple[tuple[tuple[str, ...], re.Pattern[str], str], ...] = (
    ((":",), _CHAT_LINE, _STRONG), ((":",), _SPEAKER_TIME, _STRONG), ((":",), _EXPORT_LINE, _STRONG),
    ((" to",), _CALL_CHAT, _STRONG), (("fn:", "\nn:", "\nn;"), _VCARD_FN, _STRONG),
    (("invit", "accepted", "declined", "joined", "left the", "proposed", "liked", "commented", "mentioned",
      "reacted", "replied", "tagged", "sent you", "shared", "presenting", "recording"), _NOTICE, _TWO_WORDS),
    ((" by ",), _DONE_BY, _TWO_WORDS), (("@",), _MENTION, _BY_WORDS), ((" here",), _HERE, _BY_WORDS),
    (("sent from",), _SENT_FROM, _STRONG), ((", ",), _DIRECTORY, _STRONG),
    ((" me", " us"), _TOLD, _WEAK), (("as ",), _PUT_IT, _WEAK), ((" from ",), _NOTE_FROM, _WEAK),
)  # fmt: skip


def frame_spans(text: str) -> list[tuple[int, int, bool]]:
    """(start, end, weak) of the names the frames above point at, in ``text``'s offsets, before ``name_cues``
    trims stop words and labels off them."""
    out: list[tuple[int, int, bool]] = []
    low = text.lower()
    for words, pattern, rule in _CUES:
        if not any(w in low for w in words):
            continue
        for m in pattern.finditer(text):
            several = " " in m.group(1)
            if rule != _TWO_WORDS or several:
                out.append((*m.span(1), rule == _WEAK or (rule == _BY_WORDS and not several)))
    if ":" in text:
        out.extend(_header_names(text))
        if "\nn:" in low or "\nn;" in low or low.startswith("n:"):
            for m in _VCARD_N.finditer(text):
                out.extend((*m.span(g), False) for g in (1, 2) if m.group(g) is not None)
        if "1" in text or "one" in low:
            for m in _ONE_TO_ONE.finditer(text):
                out.extend([(*m.span(1), True), (*m.span(2), True)])
    if ", " in text:
        for m in _SURNAME_INITIAL.finditer(text):
            surname = m.group(1).split(",", 1)[0].lower()
            if surname not in NOT_NAMES and surname not in _CLOSINGS:
                out.append((*m.span(1), False))
    if "\n" in text:
        out.extend(csv_names(text))
    return out


def _header_names(text: str) -> list[tuple[int, int, bool]]:
    """The names of two or three words after a header label, one list per line (one word is as often a team's
    mailbox, a company or a bot: "To: Contoso", "Signed-off-by: Dependabot")."""
    out: list[tuple[int, int, bool]] = []
    for label in _HEADER.finditer(text):
        pos = label.end()
        for _ in range(_HEADER_ITEMS):
            m = _HEADER_NAME.match(text, pos)
            if m is None:
                break
            start, end = m.span(1)
            if len(_WORDS.findall(text[start:end])) >= 2:
                out.append((start, end, False))
            sep = _HEADER_NEXT.match(text, end)
            if sep is None:
                break
            pos = sep.end()
    return out


# A table's header that names a column of people: a person's name, or a role only a person holds.
_PERSON_COLUMN = re.compile(
    r"(?i)(?:full|first|last|given|family|middle|maiden|employee|patient|student|contact|applicant|member|"
    r"account ?holder|card ?holder|policy ?holder|user)?[ _-]?(?:name|names)|surname|forename|firstname|lastname|"
    r"fullname|employee|patient|student|applicant"
)
_NAME_COLUMN = re.compile(r"(?i)names?")  # "name" alone: a vendor's or a product's too
# Columns only a list of people has beside a "name" column.
_PEOPLE_COLUMNS = re.compile(
    r"(?i)e-?mail(?: address)?|phone|mobile|cell|dob|date[ _]of[ _]birth|birth ?date|birthday|title|job[ _]?title|"
    r"department|dept|salary|ssn|gender|age|hire[ _]?date|manager|extension|ext"
)
_DELIMITERS = (",", ";", "\t", "|")
_ROWS = 200  # rows of a table read for names
_WHOLE_NAME = re.compile(NAME + r"\Z")


def csv_names(text: str) -> list[tuple[int, int, bool]]:
    """The names in the columns of a delimited table whose first line is a header that names a column of people
    ("first_name,last_name,email", "Employee Name;Department"); a column headed "name" alone counts where another
    column is one only people have (e-mail, phone, date of birth, job title, ...). Strong: a header says so."""
    lines = text.split("\n", _ROWS + 1)[: _ROWS + 1]
    header = lines[0]
    delimiter = max(_DELIMITERS, key=header.count)
    if header.count(delimiter) == 0:
        return []
    columns = [c.strip().strip("\"'") for c in header.split(delimiter)]
    people = any(_PEOPLE_COLUMNS.fullmatch(c) for c in columns)
    wanted = {
        i for i, c in enumerate(columns) if _PERSON_COLUMN.fullmatch(c) and (people or not _NAME_COLUMN.fullmatch(c))
    }
    if not wanted:
        return []
    out: list[tuple[int, int, bool]] = []
    offset = len(header) + 1
    for line in lines[1:_ROWS + 1]:
        pos = offset
        for i, field in enumerate(line.split(delimiter)):
            if i in wanted:
                value = field.strip(" \t")
                lead = len(field) - len(field.lstrip(" \t"))
                if len(value) >= 2 and value[0] == value[-1] == '"':  # a quoted field: "Ana Ruiz"
                    value, lead = value[1:-1], lead + 1
                if _WHOLE_NAME.match(value) is not None:
                    out.append((pos + lead, pos + lead + len(value), False))
            pos += len(field) + 1
        offset += len(line) + 1
    return out
