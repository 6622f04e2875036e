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

from gateway.pii import name_predicates
from gateway.pii.alternation import by_first_character
from gateway.pii.name_frames import frame_spans
from gateway.pii.name_shapes import LOWER, NAME, NAME_WORD, TITLE_WORDS, email_named, in_spans
from gateway.pii.name_words import GROUP_TAIL, NOT_NAMES, OPENERS, ROLE_NOUNS

_BEFORE = (
    r"my name is", r"name is", r"names? on the account is", r"named(?: him| her| them| me| it)?",
    r"what(?:'s| is) your (?:full )?name\?", r"['\u2019]s (?:full |legal |maiden )?name",
    r"(?:his|her|their|your|full|legal) name(?: is)?:?",
    r"call(?:s|ed)? (?:him|her|them|me)", r"called",
    r"this is", r"i am", r"i'm", r"dear", r"hi", r"hello", r"hey", r"thanks", r"thank you",
    r"regards,?\s", r"sincerely,?\s", r"best,?\s", r"cheers,?\s", r"yours,?\s",
    r"mr\.?", r"mrs\.?", r"ms\.?", r"miss", r"mx\.?", r"dr\.?", r"prof\.?",
    r"name:", r"contact", r"ask", r"speak to", r"talk to", r"spoke to", r"spoke with", r"said", r"says",
    r"sung by", r"written by", r"directed by", r"performed by", r"signed by", r"approved by", r"sent by",
    r"starring", r"featuring", r"maiden name is", r"dating", r"engaged to", r"married to",
    r"divorced from", r"naming (?:him|her|the baby|our (?:son|daughter))", r"kid", r"son", r"daughter", r"wife",
    r"husband", r"partner",
    r"friend", r"boss", r"manager", r"guardian", r"producer", r"songwriter", r"singer", r"author", r"director",
    r"(?:co-?)?founders?:?", r"owners:", r"directors:",
    # A form's label for a person, with its colon or dash ("Prepared by: X", "Account holder - X").
    r"(?:prepared|reviewed|approved|authori[sz]ed|submitted|requested|reported|verified|checked|completed|issued|"
    r"witnessed|processed|handled|assigned|created|updated|signed|sent|written|edited|owned) by[ \t]*[:\-\u2013]",
    r"(?:account ?holder|card ?holder|beneficiary|payee|applicant|co-?applicant|borrower|co-?borrower|guarantor|"
    r"patient|client|employee|full name|first name|last name|surname|given names?|contact person|attendee|guest|"
    r"passenger|witness|approver|reviewer|assignee|requester|requestor|recipient|addressee|insured|"
    r"policy ?holder|tenant|landlord|student|candidate|signatory|next of kin|emergency contact|contact|reporter|"
    r"requested for|organi[sz]ed by|hosted by|owner|assigned to)[ \t]*[:\-\u2013]", r"signed,",
    # The line after a letter's closing ("Thanks,\nDustin", "Love,\nSigrun", "All the best,\nAna").
    r"(?:thanks|thank you|many thanks|love|warmly|respectfully|cordially|best wishes|all the best|take care|"
    r"signed|with gratitude|with appreciation|kind wishes|warm wishes)[,!.]?[ \t]*\n",
)  # fmt: skip
# Words before a name that also come before a team, a product or a company ("met with Finance"): what follows
# them counts only where the tagger reads it as a proper noun (see ``cue_spans``).
_WEAK_BEFORE = (
    r"follow(?:ed)? up with", r"meet(?:ing)? with", r"met with", r"heard", r"told", r"tell", r"remind", r"cc:",
    r"attn:?", r"assistant to", r"player", r"colleague", r"co-?worker", r"neighbou?r", r"mother", r"father",
    r"brother", r"sister", r"uncle", r"aunt", r"cousin", r"nephew", r"niece", r"grandson", r"granddaughter",
    r"mom", r"dad", r"tenant", r"patient", r"employee", r"lawyer", r"attorney", r"doctor", r"nurse", r"teacher",
    r"coach", r"applicant", r"beneficiary", r"given", r"gave", r"invited", r"introduced", r"married", r"thanked",
    r"hired", r"emailed", r"texted", r"messaged", r"loop(?:ing|ed)? in", r"looped", r"adding",
    r"grandmother", r"grandfather", r"grandma", r"grandpa", r"granny", r"stepmother", r"stepfather", r"stepson",
    r"stepdaughter", r"godmother", r"godfather",
    # Thanks, tributes and dedications ("Thanks to Connor for...", "dedicated the song to Traci").
    r"thanks to", r"thank you to", r"shout ?-?outs? to", r"hats off to", r"goes out to", r"tribute to",
    r"in hono(?:u)?r of", r"dedicated (?:[a-z]+ ){0,3}to",
    # Greetings, thanks and farewells that also reach a team ("Welcome Treasury to the platform").
    r"good (?:morning|afternoon|evening)", r"greetings", r"welcome", r"congratulations(?: to)?",
    r"congrats(?: to)?", r"happy birthday", r"in memory of", r"rip", r"condolences to", r"farewell to",
    # Verbs and phrases whose object is as often a team: "Call Finance", "Per Legal", "on behalf of Acme".
    r"call", r"text", r"e-?mail", r"ping", r"per", r"according to", r"on behalf of", r"c/o", r"care of",
    r"(?:interview|lunch|dinner|coffee|call|chat|appointment|session|visit)(?:ed)? with", r"b?cc:?",
    r"(?:prepared|reviewed|approved|authori[sz]ed|submitted|requested|reported|verified|witnessed|assigned) by",
    r"assigned to", r"escalated to", r"forwarded to", r"addressed to", r"pay(?:able)? to(?: the order of)?",
    # Roles that a person holds, before the name ("Borrower Ana Ruiz missed a payment").
    r"borrower", r"customer", r"client", r"witness", r"guest", r"passenger", r"cardholder", r"claimant",
    r"debtor", r"defendant", r"plaintiff", r"suspect", r"victim", r"driver", r"student", r"resident",
    r"caller", r"sender", r"recipient", r"payee", r"buyer", r"seller", r"landlord", r"officer", r"agent",
    r"advis[eo]r", r"banker", r"broker", r"inspector", r"candidate", r"interviewee", r"director", r"chairman",
    r"chairwoman", r"president", r"senator", r"judge", r"detective", r"captain", r"sergeant",
    r"professor", r"pastor", r"father", r"rev\.?", r"sir", r"dame", r"lord", r"lady", r"mx\.?",
)  # fmt: skip
_NAME_NC = rf"{NAME_WORD}(?:[ ]{NAME_WORD}){{0,2}}"
_NAME_BOUNDED = re.compile(r"(?<![\w'\u2019-])" + NAME + r"(?![\w'\u2019-])")
_ROLES = (
    r"guardian|beneficiary|co-?signer|executor|trustee|contact|signatory|owner|holder|authori[sz]ed user|"
    r"representative|power of attorney|next of kin|emergency contact|dependent|dependant"
)
_CUE_BEFORE = re.compile(r"(?i:\b" + by_first_character(_BEFORE) + r")[ \t]*\n?[ \t]*" + NAME + r"(?![\w'\u2019-])")
_WEAK_CUE_BEFORE = re.compile(
    r"(?i:\b" + by_first_character(_WEAK_BEFORE) + r")[ \t]*\n?[ \t]*" + NAME + r"(?![\w'\u2019-])"
)
_CUE_AFTER = re.compile(NAME + r"(?:'s)? (?i:said|says|wrote|writes|shouted|asked|replied|lives|is from)\b")
# What only a person does or goes through (a team does not laugh, a product is not born): "Yvonne Curtis
# laughed", "Reginald was born in", "Amanda grew up in", "Guzman passed away".
_PERSON_DOES = re.compile(
    NAME + r" (?:(?:just|then|also|suddenly|quietly|softly) )?(?:laughed|smiled|grinned|giggled|chuckled|sighed|"
    r"cried|wept|sobbed|nodded|shrugged|winked|frowned|blushed|whispered|yelled|screamed|hugged|kissed|"
    r"was born|were born|is pregnant|was pregnant|got pregnant|grew up|passed away|died|fell asleep|got married|"
    r"got engaged|is engaged|is married|"
    r"was married|divorced|retired|graduated|studied|majored|fell in love|turned [1-9][0-9]|sang|danced|slept|"
    r"woke up|got sick|is sick|was sick|is injured|was injured|was influenced|loves|hates|enjoys|misses)\b"
)
# A line of a contact list: two or three capitalized words, then the person's phone number or e-mail address
# ("Emily Ellis 212-555-0187", "Ana Ruiz: ana@example.com", "...; Tom Lee - (212) 555-0187").
_LISTED_CONTACT = re.compile(
    r"(?m)(?:^|(?<=[,;(] ))[ \t]*" + rf"({NAME_WORD}(?:[ ]{NAME_WORD}){{1,2}})" + r"[ \t]*[:,|\-\u2013]?[ \t]*"
    r"(?=\+?1?[ .-]?\(?[0-9]{3}\)?[ .-]?[0-9]{3}[ .-]?[0-9]{4}(?![0-9])|<?[\w.+-]{1,64}@[\w-]{1,64}\.)"
)
# Surname first, after a form's label for people ("Attendee list: Hopkins, Troy", "Patient name: Russo, Sam J.").
_SURNAME_FIRST = re.compile(
    r"(?i:\b(?:names?|attendees?|participants?|patient|guests?|employee|student|applicant|passenger|signatory)"
    r"\b[ a-z]{0,12}:)[ \t]*" + rf"({NAME_WORD}, {NAME_WORD}(?:[ ]{NAME_WORD})?)" + r"(?=[ \t]*(?:\n|\Z|;|\.(?:\s|\Z)))"
)
# The speaker after a quotation: '"We will win," Yvonne Curtis told reporters.'
_QUOTED_BY = re.compile(
    r"[,.!?][\"\u201d] " + NAME + r" (?:told|added|explained|noted|recalled|insisted|admitted|continued|"
    r"remarked|warned|joked|recalls|adds|explains|tells)\b"
)
# "Danielle, who lives next door": a relative "who" follows a person (an organization takes "which").
_WHO = re.compile(NAME + r",? who\b")
# An age in apposition, as news and records write it: "Yolanda Reyes, 34, of Denver", "Smith (52)".
_AGED = re.compile(NAME + r"(?:, (?:aged? )?[1-9][0-9]?,| \((?:aged? )?[1-9][0-9]?\))(?= )")
# "Bailey is a very sympathetic person": what is said to be a person is one.
# Also a role only a person has: "Riley is the best coworker", "Ana Ruiz is an American actor", "X was my doctor".
_IS_A_PERSON = re.compile(
    NAME + r" (?:is|was) (?:a|an|such a|the|my|our|your|his|her) (?:[a-z]+ ){0,2}(?:person|man|woman|guy|girl|"
    r"boy|lady|gentleman|child|kid|coworker|co-worker|colleague|friend|boyfriend|girlfriend|husband|wife|mother|"
    r"father|mom|dad|sister|brother|cousin|aunt|uncle|grandmother|grandfather|neighbou?r|teacher|actor|actress|"
    r"singer|songwriter|writer|novelist|poet|painter|author|nurse|surgeon|dentist|lawyer|boss|roommate)\b"
)
_DIALOGUE = re.compile(r"(?m)^" + NAME + r":[ ]?(?=\S)")
# "said Eric to Sophia": the one spoken to.
_SAID_TO = re.compile(r"\b(?:said|says|replied|shouted|whispered|wrote) " + _NAME_NC + r" to " + NAME + r"\b")
# "add Kayla Pierce as guardian": a role that only a person holds on an account.
_SUFFIX = r"(?:,? (?:PhD|MD|DVM|DDS|Jr\.|Sr\.|II|III|IV|V|Esq\.|CPA|RN))?"
_AS_ROLE = re.compile(NAME + _SUFFIX + r" as (?:an? |the |my |our |his |her |their )?(?:" + _ROLES + r")\b")
# A vocative: "Don't go to town, Elijah!", "Remember me, Ruben?"; "Carmen, can I please speak to your boss?".
_VOCATIVE_END = re.compile(r", " + NAME + r"[!?]")
_YOU_VOCATIVE = re.compile(r"\byou, " + NAME + r"[.!?]")  # "We miss you, Amanda."
_VOCATIVE_START = re.compile(
    r"(?m)(?:^|(?<=[.!?] ))[ \t]*" + NAME + r", (?=(?:can|could|would|will|do|did|does|are|were|is|have|has|"
    r"please|you|we|let|thanks|thank|how|what|where|when|why|who|it|this|that|i'm|i've)\b|I\b)"
)
# A sentence that starts with a name and goes on to "his"/"her": "Christian had given Jon his address",
# "Jason Haynes listed his top 20 songs" (an organization has "its").
_HIS_HER = re.compile(
    r"(?m)(?:^|(?<=[.!?] ))[ \t]*" + NAME + r" (?:[a-z][a-z']* ){1,3}(?:[A-Z][a-z]+ )?(?:his|her|himself|herself)\b"
)
# A sentence that starts with a name, and the next one with "He" or "She": "Reginald spent a year at Acme. He
# then ..." (a team is "they", a product "it").
_HE_SHE_NEXT = re.compile(r"(?m)(?:^|(?<=[.!?] ))[ \t]*" + NAME + r" [a-z][^.!?\n]{0,160}[.!?][ \t]+(?:He|She)\b")
# "Jeffery's address", "Danielle Fox's wife": a possessive before what only a person has.
_POSSESSIVE = re.compile(
    NAME + r"['\u2019]s (?:address|phone|email|e-mail|account|wife|husband|son|daughter|mother|father|brother|"
    r"sister|partner|kid|kids|children|birthday|killers?|funeral|song|songs|novel|book|version|lawyer|doctor|"
    r"salary|passport|signature|resignation|wedding|girlfriend|boyfriend|fianc[eé]e?|spouse|parents|mom|dad|"
    r"mum|grandmother|grandfather|diagnosis|death|date of birth|ssn|social security|driver'?s licen[cs]e|"
    r"resume|résumé|cv|paycheck|payslip|prescription|surgery|illness|niece|nephew|cousin|uncle|aunt|widow|"
    r"widower|grave|obituary|retirement|hair|eyes|face|voice|smile|dog|cat|pet|bedroom|homework|family|"
    r"friends?|baby|grandma|grandpa|roommate|classmates?|car|bike|apartment|mother-in-law|father-in-law|"
    r"ex-wife|ex-husband|twin|nanny|first day|new job)\b"
)
# A name on the line before or after its job title: "Ayten Gute, Head of Risk", "Ana Ruiz | Product Manager",
# "-- \nAna Ruiz\nSenior Analyst". Two or three words: one capitalized word before a title is as often a team.
_TITLED = re.compile(
    r"(?m)^[^\w\n]*" + rf"({NAME_WORD}(?:[ ]{NAME_WORD}){{1,2}})" + _SUFFIX + r"[ \t]*(?:,|\||[-\u2013\u2014]|\n)[ \t]*"
    r"(?:(?!(?:The|A|An|Our|This|That)[ ])[A-Z][A-Za-z&]*[ ]|(?:senior|junior|chief|deputy|vice|executive|"
    r"managing|general|regional|assistant|associate)[ ]){0,3}(?i:" + TITLE_WORDS + r")\b"
    r"(?=[ \t]*(?:$|[,|(/\-\u2013]|(?i:of|at|for|to|and|in)\b))"
)
# A signature after "-- " or an attribution after a dash ("\u2014 Tina Morales"), on a line of its own.
_SIGNED = re.compile(r"(?m)^[ \t]*(?:--|\u2014|\u2013|~)[ \t]*\n?[ \t]*" + NAME + r"[ \t,]*(?:$|\n)")
_LET_KNOW = re.compile(r"\b(?i:let) " + NAME + r" know\b")
# A contact block: the text's first line is a name (two or three capitalized words) and an address line with a
# house number and a capitalized street name follows within the next three lines.
_BLOCK_HEAD = re.compile(
    r"\A[^\w\n]*" + rf"({NAME_WORD}(?:[ ]{NAME_WORD}){{1,2}})"
    + r"[ \t]*\n(?:[^\n]*\n){0,3}?[^\w\n]*[0-9]{1,6} [A-Z][a-z]"
)
# A contact card: the first line is a name (and perhaps a degree or suffix), and a later line starts with a
# contact label ("Phone:", "E-mail:") or holds an e-mail address.
_CARD_HEAD = re.compile(r"\A[^\w\n]*" + rf"({NAME_WORD}(?:[ ]{NAME_WORD}){{1,2}})" + _SUFFIX + r"[ \t]*\n")
_CONTACT_LINE = re.compile(
    r"(?im)^[^\w\n]*(?:phone|mobile|cell|tel|telephone|fax|e-?mail|address|website)[ \t]*:|[\w.+-]@[\w-]+\."
)


def name_spans(text: str, stop_words: frozenset[str]) -> list[tuple[int, int]]:
    """[start, end) spans of names the cues point at, in ``text``'s offsets (strong and weak cues alike)."""
    return [(start, end) for start, end, _ in cue_spans(text, stop_words)]


def line_heads(text: str) -> list[tuple[int, int]]:
    """The capitalized words a line starts with before a colon: a chat line's speaker ("Vincenzo: ok") or a
    label ("Approvers: Morales, Roc\u00edo"); ``ner`` tells them apart by the tagger (a label is a common noun)."""
    return [(m.start(1), m.end(1)) for m in _DIALOGUE.finditer(text)]


def cue_spans(text: str, stop_words: frozenset[str]) -> list[tuple[int, int, bool]]:
    """(start, end, weak): a weak cue's word ("met with X", "X, can you...", "Thanks, X!", a list member) is
    also where teams and products stand, so ``ner`` keeps it only where the tagger reads a proper noun."""
    strong = [_CUE_BEFORE, _CUE_AFTER, _IS_A_PERSON, _DIALOGUE, _POSSESSIVE, _SAID_TO, _AS_ROLE, _BLOCK_HEAD,
              _TITLED, _SIGNED, _PERSON_DOES, _AGED, _QUOTED_BY, _LISTED_CONTACT,
              _SURNAME_FIRST, *name_predicates.strong(text)]  # fmt: skip
    weak = [_WEAK_CUE_BEFORE, _VOCATIVE_END, _YOU_VOCATIVE, _VOCATIVE_START, _HIS_HER, _LET_KNOW, _WHO, _HE_SHE_NEXT,
            *name_predicates.weak(text)]  # fmt: skip
    if _CONTACT_LINE.search(text) is not None:
        strong.append(_CARD_HEAD)
    found: list[tuple[int, int, bool]] = []
    for patterns, is_weak in ((strong, False), (weak, True)):
        found.extend((m.start(1), m.end(1), is_weak) for pattern in patterns for m in pattern.finditer(text))
    if "@" in text:
        found.extend((start, end, False) for start, end in email_named(text, _NAME_BOUNDED))
    found.extend((start, end, False) for start, end in name_predicates.renamed_it(text))
    found.extend(frame_spans(text))
    spans: list[tuple[int, int, bool]] = []
    for start, end, is_weak in found:
        span = _trimmed(text, start, end, stop_words)
        if span is not None:
            spans.append((*span, is_weak))
    spans.extend((start, end, False) for start, end in _lower_case_names(text, stop_words))
    return spans


# A name written in lower case after the cues that hardly precede anything else: "my name is ana ruiz",
# "dear ana,", "mr ruiz", "regards,\nana". Words are taken up to a stop word or punctuation; a role noun among
# or right after them ("dear valued customer", "dear hiring manager") means no name is there.
_LOWER_CUE = re.compile(
    r"(?i:\b(?:my name is|my name's|my full name is|dear|mr\.?|mrs\.?|ms\.?|dr\.?|prof\.?)[ \t]+|"
    r"\b(?:regards|sincerely|thanks|cheers|best|love),?[ \t]*\n[ \t]*)"
    rf"([a-z][{LOWER}]+(?:[ ][a-z][{LOWER}]+){{0,3}})"
)


def _lower_case_names(text: str, stop_words: frozenset[str]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for m in _LOWER_CUE.finditer(text):
        start = end = m.start(1)
        for word in m.group(1).split(" "):
            if word in stop_words:
                break
            if word in NOT_NAMES or word in ROLE_NOUNS:
                end = start  # a role noun: what came before it described the role, not a person
                break
            end += (end > start) + len(word)
        if end > start:
            out.append((start, end))
    return out


_NEXT_WORD = re.compile(r"[ ]([A-Za-z]+)\b")


def group_named(words: str) -> bool:
    """Whether capitalized words end in a group's or a label's word: a team or a company, never a person."""
    last = words.rsplit(" ", 1)[-1]
    return last.lower() in GROUP_TAIL


def _trimmed(text: str, start: int, end: int, stop_words: frozenset[str]) -> tuple[int, int] | None:
    """The capitalized words without trailing stop words and not-names; None when no name is left, or when
    the words end in, or stand before, a group's or a label's word ("Finance Team", "Acme LLC", "Order
    Number:")."""
    words = text[start:end].split(" ")
    after = _NEXT_WORD.match(text, end)
    if words[-1].lower() in GROUP_TAIL or (after and after.group(1).lower() in GROUP_TAIL):
        return None
    while words and (words[-1].lower() in stop_words or words[-1].lower() in NOT_NAMES):
        end -= len(words.pop()) + (1 if words else 0)
    # A sentence's opening word before the name ("Honestly Riley is..."), but not a month ("April Day").
    while len(words) > 1 and (words[0].lower() in stop_words or words[0].lower() in OPENERS):
        start += len(words.pop(0)) + 1
    first = words[0].lower() if words else ""
    # "April Day" is a name, "April" alone after "by" is a month.
    if words and first not in stop_words and (first not in NOT_NAMES or len(words) > 1):
        return start, end
    return None


# A list of names: "Thomas, Mcintosh and French", "Ayers, Perkins and Wiley".
_LIST_NEXT = re.compile(r"(?:[,;][ ]?(?:and |& |or )?|[ ](?:and|&|or)[ ])" + NAME + r"(?![\w'\u2019-])")
_LIST_PREV = re.compile(r"(?<![\w'\u2019-])" + NAME + r"(?:[,;][ ]?|[ ](?:and|&|or)[ ])\Z")
_LIST_REACH = 80  # characters looked back for the previous member of a list


def listed_with(text: str, spans: list[tuple[int, int]], stop_words: frozenset[str]) -> list[tuple[int, int]]:
    """Capitalized words listed with a name ("X, Y and Z" where one of them is a PERSON span): the other
    members, one step at a time in both directions, as long as each is a name-shaped word."""
    found: set[tuple[int, int]] = set(spans)
    todo = list(spans)
    out: list[tuple[int, int]] = []
    while todo:
        start, end = todo.pop()
        neighbours = []
        m = _LIST_NEXT.match(text, end)
        if m is not None:
            neighbours.append(_trimmed(text, m.start(1), m.end(1), stop_words))
        lo = max(0, start - _LIST_REACH)
        m = _LIST_PREV.search(text[lo:start])
        if m is not None:
            neighbours.append(_trimmed(text, lo + m.start(1), lo + m.end(1), stop_words))
        for span in neighbours:
            if span is not None and not any(s < span[1] and span[0] < e for s, e in found):
                found.add(span)
                todo.append(span)
                out.append(span)
    return out


# An item of a bulleted or numbered list ("- Kwame Mensah", "2) Kavya Iyer (backend)"): its marker, and the
# capitalized words it starts with when nothing but a note follows them on the line.
LIST_ITEM = re.compile(r"(?m)^[ \t]*([-*\u2022]|[0-9]{1,3}[.)])[ \t]+(?=\S)")
_ITEM_NAME = re.compile(NAME + r"(?=[ \t]*(?:[(,|]|[-\u2013:][ \t]|$))", re.MULTILINE)


def listed_lines(text: str, spans: list[tuple[int, int]], stop_words: frozenset[str]) -> list[tuple[int, int]]:
    """The names that head the other items of a list whose one item is headed by a name (a PERSON span): the
    items of one list stand on consecutive lines, each after the same kind of marker ("-", "2." or "2)")."""
    lists: list[list[tuple[int, int]]] = []
    kind, line_end = "", -1
    for m in LIST_ITEM.finditer(text):
        marker = m.group(1)
        this_kind = marker[-1] if marker[0].isdigit() else marker
        name = _ITEM_NAME.match(text, m.end())
        span = _trimmed(text, name.start(1), name.end(1), stop_words) if name is not None else None
        if this_kind != kind or text.rfind("\n", 0, m.start()) != line_end:
            lists.append([])
        lists[-1].append(span or (m.end(), m.end()))
        kind, line_end = this_kind, text.find("\n", m.end())
    out: list[tuple[int, int]] = []
    for items in lists:
        if any(s < ie and is_ < e for is_, ie in items for s, e in spans):
            out.extend((s, e) for s, e in items if e > s and not any(a < e and s < b for a, b in spans))
    return out


_REPEAT_MAX = 16  # distinct name words looked for again in one text
_REPEAT_MIN = 3  # letters: an initial or a two-letter word is not looked for


def repeated(text: str, spans: list[tuple[int, int]], stop_words: frozenset[str]) -> list[tuple[int, int]]:
    """Other places where a found name, or one of its words, stands capitalized ("Joy Smith ... Smith's song";
    "Reginald ... Reginald spent"): a text names one person the same way each time, whatever cue is near."""
    words: dict[str, None] = {}
    for start, end in spans:
        for word in text[start:end].split(" "):
            low = word.lower()
            if len(word) >= _REPEAT_MIN and word[0].isupper() and low not in stop_words and low not in NOT_NAMES:
                words.setdefault(word)
    merged: list[tuple[int, int]] = []  # sorted and not overlapping, for a bisection per mention
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    out: list[tuple[int, int]] = []
    for word in list(words)[:_REPEAT_MAX]:
        for m in re.finditer(r"(?<![\w'\u2019-])" + re.escape(word) + r"(?![\w-])", text):
            after = _NEXT_WORD.match(text, m.end())
            if after is not None and after.group(1).lower() in GROUP_TAIL:
                continue  # "Walter Acme ... Acme Corp": the company, not the person
            if not in_spans(merged, m.start(), m.end()):
                out.append(m.span())
    return out
