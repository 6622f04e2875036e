"""The shapes of names beyond ASCII capitals: accented letters, text written in capitals, e-mail addresses.

* ``UPPER`` / ``LOWER``: regular-expression classes of the Latin letters (ASCII, Latin-1, Latin Extended-A and
  -B) by case, so "Émile", "Sölzer" and "Łukasz" are capitalized words to the cues and the NER windows.
* ``restore_case``: spaCy's small model and the cues know a name by its capital letter, and read words written
  all in capitals ("Attn: SAMANTHA GRIMES") as acronyms. A run of two or more such words that looks like a name,
  and a word in capitals after a title or a greeting ("Dr. CARRO"), are given back to them with each word
  capitalized ("Samantha Grimes"), character for character, so every offset still points into the text as
  written.
* ``email_named``: a name next to an e-mail address whose local part spells it ("Jessica Oneal
  <jessica.oneal@...>", "J. Smith, jsmith@...") is a person's; a team's mailbox (``billing@``, ``support@``) is not.
"""

from __future__ import annotations

import bisect
import re
import sys
import unicodedata

_LATIN = [chr(c) for c in range(0xC0, 0x250) if chr(c).isalpha()]
UPPER = "A-Z" + "".join(c for c in _LATIN if c.isupper() and len(c.lower()) == 1)
LOWER = "a-z" + "".join(c for c in _LATIN if c.islower() and len(c.upper()) == 1) + "\u00df"
# One to three capitalized words: O'Brien, Mcguire, McAllister, MacGee, Jean-Luc, Émile, Sölzer, an initial "J.".
# ``NAME`` is one group.
NAME_WORD = (
    rf"(?:Mc|Mac|Fitz)?[{UPPER}](?:[{LOWER}]+(?:['\u2019-][{UPPER}]?[{LOWER}]+)?|['\u2019][{UPPER}][{LOWER}]+|\.)"
)
# The particles that stand in lower case between the words of a name: "Charlotte van Vliet", "Lotte van 't Riet",
# "Benício da Cunha", "Gabrielle Ó Lása" (an Irish particle is one capital; the detection view reads it "O"),
# "Ortega y Gasset".
PARTICLE = (
    r"(?:van|von|vom|de|der|den|del|della|dei|di|da|das|do|dos|du|la|le|ten|ter|zu|y|bin|ibn|al|el|"
    r"['\u2019]t|\u00d3|O|a['\u2019])"
)
NAME = rf"({NAME_WORD}(?:[ ](?:{PARTICLE}[ ]){{0,2}}{NAME_WORD}){{0,2}})"
# The words of a job title ("Senior Analyst", "Head of Risk"), for the cues that read a name beside one.
TITLE_WORDS = (
    r"head|manager|director|officer|analyst|engineer|president|vp|svp|evp|ceo|cfo|coo|cto|cio|ciso|chair|"
    r"chairman|chairwoman|founder|co-?founder|partner|consultant|specialist|coordinator|administrator|assistant|"
    r"secretary|treasurer|accountant|attorney|counsel|advis[eo]r|supervisor|intern|professor|lecturer|nurse|"
    r"physician|architect|designer|developer|scientist|auditor|controller|representative|agent|clerk|teller|"
    r"underwriter|banker|associate|lead|principal"
)

# A line of three letters or more, most of them capitals, holding at least two words of two letters.
_LINE = re.compile(r"[^\n]+")
_CAPS_WORD = re.compile(rf"[{UPPER}]{{2,}}")
_LETTERS = re.compile(rf"[{UPPER}{LOWER}]+")
MOSTLY = 0.8  # the share of a line's letters that are capitals


# Two or more words in capitals in a row ("SAMANTHA GRIMES"), or one of three letters or more after a title, a
# greeting or a letter's closing ("Dr. CARRO", "Hi MAJA", "Thanks,\nDUSTIN"): a single word in capitals
# elsewhere is as often an acronym (SSN, ATM).
_CAPS = rf"[{UPPER}]{{2,}}(?:['\u2019-][{UPPER}]{{2,}})?"
_CAPS_END = r"(?![\w-])(?!['\u2019]\w{2})"  # a possessive may follow: "ELIJAH VIRK's"
_CAPS_RUN = re.compile(rf"(?<![\w'\u2019-]){_CAPS}(?:[ ]{_CAPS})+" + _CAPS_END)
_CAPS_TITLED = re.compile(
    r"(?<![\w-])(?i:(?:mr|mrs|ms|mx|dr|prof)\.?|dear|hi|hello|hey|my name is|"
    r"(?:thanks|regards|cheers|sincerely|love|best),?[ \t]*\n)[ \t]*" + rf"({_CAPS})" + _CAPS_END
)
_TITLE_MIN = 3


def caps_lines(text: str) -> list[tuple[int, int]]:
    """[start, end) of each line whose letters are mostly capitals (two words in capitals at least)."""
    out: list[tuple[int, int]] = []
    for line in _LINE.finditer(text):
        words = _LETTERS.findall(line.group())
        upper = sum(c.isupper() for w in words for c in w)
        if len(_CAPS_WORD.findall(line.group())) >= 2 and upper >= MOSTLY * sum(len(w) for w in words):
            out.append(line.span())
    return out


def in_spans(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    """Whether [start, end) overlaps one of ``spans`` (sorted, not overlapping): a bisection, so a text of many
    lines and many runs stays linear."""
    i = bisect.bisect_right(spans, (start, sys.maxsize))
    return any(s < end and start < e for s, e in spans[max(0, i - 1) : i + 1])


def restore_case(text: str) -> str:
    """``text`` with a word in capitals after a title, a greeting or a closing, and (outside lines written
    mostly in capitals) each run of two or more words in capitals that looks like a name (a vowel in each word,
    four letters in one: not "ATM PIN"), capitalized word by word; the same length, and the same text where none
    is. A line in capitals is not restored whole: capitalized word by word, it reads to the model and to the cues
    as a row of proper nouns ("Fabrikam Said The Outage...")."""
    if _CAPS_WORD.search(text) is None:
        return text
    shouted = caps_lines(text)
    spans = [
        m.span() for m in _CAPS_RUN.finditer(text)
        if _name_like(m.group().split(" ")) and not in_spans(shouted, m.start(), m.end())
    ]  # fmt: skip
    spans.extend(m.span(1) for m in _CAPS_TITLED.finditer(text) if len(m.group(1)) >= _TITLE_MIN)
    if not spans:
        return text
    out = list(text)
    for start, end in spans:
        for m in _LETTERS.finditer(text, start, end):
            for i in range(m.start() + 1, m.end()):
                low = text[i].lower()
                if len(low) == 1:
                    out[i] = low
    return "".join(out)


_VOWEL = re.compile("[AEIOUYÀ-ÆÈ-ÏÒ-ÖØ-Ý]")


def _name_like(words: list[str]) -> bool:
    return all(_VOWEL.search(w) for w in words) and any(len(w) >= 4 for w in words)


_EMAIL = re.compile(r"(?<![\w.+-])([A-Za-z][A-Za-z0-9._+-]{0,63})@[A-Za-z0-9-]+\.")
_LOCAL_PART = re.compile(r"[a-z]+")
REACH = 60  # characters before (or after) an address where its owner's name is looked for
# Mailboxes of a team or a function: a word that matches one of these is no one's name.
_TEAM_MAILBOXES = frozenset(
    ["info", "billing", "support", "help", "helpdesk", "admin", "sales", "office", "team", "contact", "service",
     "services", "accounts", "account", "finance", "legal", "hr", "careers", "jobs", "press", "media", "privacy",
     "security", "noreply", "reply", "no", "mail", "hello", "enquiries", "inquiries", "orders", "payments",
     "payroll", "marketing", "compliance", "operations", "ops", "it", "webmaster", "postmaster", "customer",
     "customers", "care", "desk", "the", "and", "group", "dept", "department", "news", "newsletter", "feedback",
     "corp", "inc", "llc", "ltd", "company", "bank", "shop", "store", "events", "bookings", "reservations"]
)  # fmt: skip


def fold(word: str) -> str:
    """Lower case without accents: "Thérèse" -> "therese"."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def email_named(text: str, name: re.Pattern[str]) -> list[tuple[int, int]]:
    """Spans of ``name`` matches within ``REACH`` characters of an e-mail address whose local part spells a word
    of the name (``jessica.oneal``), its initial and last word (``jsmith``, ``smithj``), or the whole name."""
    out: list[tuple[int, int]] = []
    for address in _EMAIL.finditer(text):
        parts = [p for p in _LOCAL_PART.findall(address.group(1).lower()) if p not in _TEAM_MAILBOXES]
        if not parts:
            continue
        lo, hi = max(0, address.start() - REACH), min(len(text), address.end() + REACH)
        for where in (range(lo, address.start()), range(address.end(), hi)):
            for m in name.finditer(text, where.start, where.stop):
                if _spells(m.group(1).split(" "), parts):
                    out.append((m.start(1), m.end(1)))
    return out


def _spells(words: list[str], parts: list[str]) -> bool:
    """Whether the local part's letter runs ``parts`` spell the name ``words``: a word of it (three letters or
    more; a one-word name only in a local part of two runs or more, ``jessica.oneal``), the whole name, or an
    initial with the last or first word (``jsmith``, ``smithj``, ``johns``)."""
    raw = [fold(w).strip(".").replace("'", "").replace("\u2019", "").replace("-", "") for w in words]
    raw = [w for w in raw if w]
    if not raw:
        return False
    names = [n for n in raw if len(n) >= 3 and n not in _TEAM_MAILBOXES]
    if any(n in parts for n in names) and (len(raw) > 1 or len(parts) > 1):
        return True
    if len(raw) < 2 or len(raw[-1]) < 3 or raw[-1] in _TEAM_MAILBOXES:
        return False
    first, last = raw[0], raw[-1]
    return "".join(parts) in (first + last, first[0] + last, last + first[0], first + last[0])
