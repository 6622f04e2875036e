"""PERSON from the words people put around names: "my name is", "Dear", titles, "said", signature lines.

spaCy's small English model misses a lone first name in an odd place ("Sometimes people call me Kyle") and
many surnames. These cues find the one to three capitalized words that follow (or, for "X said" and a dialogue
"X:", precede) them. No list of names is used: only the cue and the shape of a capitalized word. Stop words,
weekdays, months and form labels ("Name:", "Phone:") are never a name. Also: a possessive before what only a
person has ("Jeffery's address"), and the first line of a contact block (a name, then an address line with a
house number and a street name within three lines). Every pattern is bounded and linear.
"""

from __future__ import annotations

import re

# One to three capitalized words: O'Brien, Mcguire, Jean-Luc, an initial "J.".
_WORD = r"[A-Z](?:[a-z]+(?:['\u2019-][A-Z]?[a-z]+)?|\.)"
_NAME = rf"({_WORD}(?:[ ]{_WORD}){{0,2}})"
_BEFORE = (
    r"my name is", r"name is", r"names? on the account is", r"named", r"call me", r"calls me", r"called",
    r"this is", r"i am", r"i'm", r"dear", r"hi", r"hello", r"hey", r"thanks", r"thank you",
    r"regards,?\s", r"sincerely,?\s", r"best,?\s", r"cheers,?\s", r"yours,?\s",
    r"mr\.?", r"mrs\.?", r"ms\.?", r"miss", r"mx\.?", r"dr\.?", r"prof\.?",
    r"name:", r"contact", r"ask", r"speak to", r"talk to", r"spoke to", r"spoke with", r"said", r"says",
    r"sung by", r"written by", r"directed by", r"performed by", r"signed by", r"approved by", r"sent by",
    r"starring", r"featuring", r"maiden name is", r"kid", r"son", r"daughter", r"wife", r"husband", r"partner",
    r"friend", r"boss", r"manager", r"guardian", r"producer", r"songwriter", r"singer", r"author", r"director",
)  # fmt: skip
_CUE_BEFORE = re.compile(r"(?i:\b(?:" + "|".join(_BEFORE) + r"))[ \t]*\n?[ \t]*" + _NAME + r"(?![\w'\u2019-])")
_CUE_AFTER = re.compile(_NAME + r"(?:'s)? (?i:said|says|wrote|writes|shouted|asked|replied|lives|is from)\b")
_DIALOGUE = re.compile(r"(?m)^" + _NAME + r":[ ]?(?=\S)")
# "Jeffery's address", "Danielle Fox's wife": a possessive before what only a person has.
_POSSESSIVE = re.compile(
    _NAME + r"['\u2019]s (?:address|phone|email|e-mail|account|wife|husband|son|daughter|mother|father|brother|"
    r"sister|partner|kid|kids|children|birthday|killers?|funeral|song|songs|novel|book|version|lawyer|doctor)\b"
)
# A contact block: the text's first line is a name (two or three capitalized words) and an address line with a
# house number and a capitalized street name follows within the next three lines.
_BLOCK_HEAD = re.compile(
    r"\A[ \t>]*" + rf"({_WORD}(?:[ ]{_WORD}){{1,2}})" + r"[ \t]*\n(?:[^\n]*\n){0,3}?[ \t>]*[0-9]{1,6} [A-Z][a-z]"
)
_NOT_NAMES = frozenset(
    [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "today",
        "tomorrow",
        "yesterday",
        "god",
        "bot",
        "user",
        "customer",
        "name",
        "date",
        "phone",
        "mobile",
        "desk",
        "fax",
        "email",
        "e-mail",
        "website",
        "address",
        "subject",
        "from",
        "to",
        "re",
        "note",
        "total",
        "office",
        "team",
        "support",
        "sales",
        "admin",
        "street",
        "road",
        "avenue",
        "suite",
        "apt",
        "unit",
        "box",
        "north",
        "south",
        "east",
        "west",
        "new",
        "sir",
        "madam",
    ]
)


def name_spans(text: str, stop_words: frozenset[str]) -> list[tuple[int, int]]:
    """[start, end) spans of names the cues point at, in ``text``'s offsets."""
    spans: list[tuple[int, int]] = []
    for pattern in (_CUE_BEFORE, _CUE_AFTER, _DIALOGUE, _POSSESSIVE, _BLOCK_HEAD):
        for m in pattern.finditer(text):
            start, end = m.span(1)
            words = text[start:end].split(" ")
            while words and (words[-1].lower() in stop_words or words[-1].lower() in _NOT_NAMES):
                end -= len(words.pop()) + (1 if words else 0)
            first = words[0].lower() if words else ""
            # "April Day" is a name, "April" alone after "by" is a month.
            if words and first not in stop_words and (first not in _NOT_NAMES or len(words) > 1):
                spans.append((start, end))
    return spans
