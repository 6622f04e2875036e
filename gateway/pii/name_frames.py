"""PERSON in the frames of working text: chat logs, mail and calendar headers, calendar notices, and surnames
with an initial.

Sixth pass on names (issue 18), drawn from ``bench/pii_name_frames.py``'s probes (names from fifteen locales in
frames written for it), never from the public holdout:

* a chat line's speaker after a time stamp ("[10:32] Vince: ...", "[10:32 AM] Emilio Raimondi: ...") or over a
  message with its time ("Emilio Raimondi  9:14 AM"); not an IRC line's "<Laura>", which the detection view drops
  as markup (``evasion.MARKUP``);
* the people a mail or an invitation is from, to or for ("From:", "To:", "Cc:", "Organizer:", "Required:",
  "Attendees:" at a line's start): two or three words are a name as they stand, one word only where the tagger
  reads a proper noun (a company or a bot stands there too);
* a calendar's or a chat's notice about someone of two or three words ("Sidar Kaya has invited you to", "X
  accepted this invitation", "X joined the meeting"; one word is as often a bot or a product: "Outlook has
  invited you"), and, weak, a one-to-one's pair ("1:1 Logan / Jane");
* a surname with its initials, as references and lists write it ("Karlsson, D.", "Joly, A. M.");
* weak, reported speech and notes passed on: "X told me", "as X put it", "a note from X".

No list of names: the cue and the shape of a capitalized word (``name_shapes``). Every pattern is bounded and
linear; each runs only where its marker (a colon, a comma or a word of it) is in the text.
"""

from __future__ import annotations

import re

from gateway.pii.name_shapes import LOWER, NAME, PARTICLE, UPPER
from gateway.pii.name_words import NOT_NAMES

_END = r"(?![\w'\u2019-])"
# A clock time in a chat line's stamp: "[10:32]", "[10:32 AM]", "[2025-03-04 10:32:01]".
_STAMP = r"\[[^\]\n]{0,12}[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?(?:[ ]?[AaPp]\.?[Mm]\.?)?\]"
_CHAT_LINE = re.compile(r"(?m)^[ \t]*" + _STAMP + r"[ \t]*" + NAME + r":[ ]?(?=\S)")
_SPEAKER_TIME = re.compile(
    r"(?m)^[ \t]*" + NAME + r"[ \t]+(?:[0-9]{1,2}:[0-9]{2}(?:[ ]?[AaPp]\.?[Mm]\.?)?)[ \t]*(?:\n|$)"
)
# The labels of a mail's or an invitation's header, at a line's start, then one name or a list of them.
_HEADER = re.compile(
    r"(?im)^[ \t>]*(?:from|to|cc|bcc|reply-to|sender|organi[sz]er|host|attendees?|invitees?|required(?: attendees)?|"
    r"optional(?: attendees)?)[ \t]*:[ \t]*"
)
_HEADER_NAME = re.compile(NAME + r"(?=[ \t]*(?:[;,<(\n]|$))")
_HEADER_NEXT = re.compile(r"[ \t]*(?:<[^>\n]{0,80}>|\([^)\n]{0,80}\))?[ \t]*[;,][ \t]*")
_HEADER_ITEMS = 8  # names read from one header line
_NOTICE = re.compile(
    NAME + r" (?:has (?:invited you|joined|left)|invited you|(?:has )?(?:accepted|declined|tentatively accepted) "
    r"(?:this|the|your) (?:invitation|meeting|invite)|proposed a new time|joined the (?:channel|chat|call|meeting|"
    r"conversation|group|room)|left the (?:channel|chat|call|meeting|conversation|group|room))\b"
)
_ONE_TO_ONE = re.compile(
    r"(?i:\b(?:1:1|1-1|1-on-1|1on1|one-on-one|one to one))[ \t:\-]*" + NAME + r"[ \t]*(?:/|<>|&|\+|x|and)[ \t]*" + NAME
    + _END
)  # fmt: skip
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


def frame_spans(text: str) -> list[tuple[int, int, bool]]:
    """(start, end, weak) of the names the frames above point at, in ``text``'s offsets, before ``name_cues``
    trims stop words and labels off them."""
    out: list[tuple[int, int, bool]] = []
    if ":" in text:
        for pattern in (_CHAT_LINE, _SPEAKER_TIME):
            out.extend((*m.span(1), False) for m in pattern.finditer(text))
        out.extend(_header_names(text))
        if "1" in text or "one" in text.lower():
            for m in _ONE_TO_ONE.finditer(text):
                out.extend([(*m.span(1), True), (*m.span(2), True)])
    low = text.lower()
    if any(w in low for w in ("invit", "accepted", "declined", "joined", "left the", "proposed")):
        out.extend((*m.span(1), False) for m in _NOTICE.finditer(text) if " " in m.group(1))
    if ", " in text:
        for m in _SURNAME_INITIAL.finditer(text):
            surname = m.group(1).split(",", 1)[0].lower()
            if surname not in NOT_NAMES and surname not in _CLOSINGS:
                out.append((*m.span(1), False))
    for word, pattern in ((" me", _TOLD), (" us", _TOLD), ("as ", _PUT_IT), (" from ", _NOTE_FROM)):
        if word in low:
            out.extend((*m.span(1), True) for m in pattern.finditer(text))
    return out


def _header_names(text: str) -> list[tuple[int, int, bool]]:
    """The names after a header label, one list per line: a name of two or three words is strong, one word
    weak."""
    out: list[tuple[int, int, bool]] = []
    for label in _HEADER.finditer(text):
        pos = label.end()
        for _ in range(_HEADER_ITEMS):
            m = _HEADER_NAME.match(text, pos)
            if m is None:
                break
            start, end = m.span(1)
            out.append((start, end, len(_WORDS.findall(text[start:end])) < 2))
            sep = _HEADER_NEXT.match(text, end)
            if sep is None:
                break
            pos = sep.end()
    return out
