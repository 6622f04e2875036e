"""Payment card numbers (ISO/IEC 7812 primary account numbers): every length from 12 to 19 digits, any grouping.

A candidate is a run of 12-19 digits in groups separated by at most one ``-``, ``.`` or space each (4-4-4-4,
4-6-5, 4-4-4-4-3, 4-4-4 or none); it must pass the Luhn check. Its score then says how sure we are it is a card:

* **1.0**: an issuer range and length of a scheme in use (table below), 14 digits or more;
* **0.45**: a scheme's short form (Maestro 12-13, Visa 13): blocks only with a card word nearby (+0.35);
* **0.2**: Luhn-valid but in no known range: a card word nearby (+0.35) makes it 0.55, so a Luhn-valid
  number in card context blocks whatever its length; without one it stays under any sane threshold.

Order and invoice numbers pass Luhn one time in ten by chance, so the short and unknown ranges need context;
a 16-digit number in a scheme's range that passes Luhn is a card number by every check there is, and blocks.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from presidio_analyzer import Pattern, PatternRecognizer, RecognizerResult

from gateway.pii.checksums import luhn_ok

# (scheme, inclusive prefix ranges as (low, high) of equal length, allowed lengths)
_Range = tuple[str, tuple[tuple[str, str], ...], tuple[int, ...]]
SCHEMES: tuple[_Range, ...] = (
    ("visa", (("4", "4"),), (13, 16, 19)),
    ("mastercard", (("51", "55"), ("2221", "2720")), (16,)),
    ("amex", (("34", "34"), ("37", "37")), (15,)),
    ("discover", (("6011", "6011"), ("644", "649"), ("65", "65"), ("622126", "622925")), (16, 17, 18, 19)),
    ("diners", (("300", "305"), ("3095", "3095"), ("36", "36"), ("38", "39")), (14, 15, 16, 17, 18, 19)),
    ("jcb", (("3528", "3589"),), (16, 17, 18, 19)),
    ("jcb15", (("2131", "2131"), ("1800", "1800")), (15,)),
    ("maestro", (("50", "50"), ("56", "69")), (12, 13, 14, 15, 16, 17, 18, 19)),
    ("unionpay", (("62", "62"), ("81", "81")), (16, 17, 18, 19)),
    ("rupay", (("60", "60"), ("65", "65"), ("81", "82"), ("508", "508"), ("353", "353"), ("356", "356")), (16,)),
    ("mir", (("2200", "2204"),), (16, 17, 18, 19)),
    ("verve", (("506099", "506198"), ("650002", "650027")), (16, 18, 19)),
    ("troy", (("9792", "9792"),), (16,)),
)
STRONG, SHORT_FORM, LUHN_ONLY = 1.0, 0.45, 0.2
CONTEXT = [
    "card", "cards", "cc", "credit", "debit", "visa", "mastercard", "amex", "american", "express", "discover",
    "diners", "jcb", "maestro", "unionpay", "rupay", "mir", "pan", "cvv", "cvc", "expiry", "expires", "exp",
    "payment", "charge", "charged", "billing",
]  # fmt: skip
# A whole run of digits in groups with one separator each (12-40 digits), not inside a word or a decimal (a
# word's full stop may come before it: ``no.2 4539 ...``).
# Linear: each iteration consumes one digit (the separator is optional and never a digit); bounded.
_CANDIDATE = r"(?<![\w,/-])(?<![\d.]\.)(?<!\d[ .-])\d(?:[ .-]?\d){11,39}(?![ .-]?\d)(?!\w)"
_SEPARATORS = " .-"


def scheme_of(digits: str) -> str | None:
    """The first scheme whose issuer range and length fit ``digits`` (digits only), else None."""
    for name, ranges, lengths in SCHEMES:
        if len(digits) not in lengths:
            continue
        for low, high in ranges:
            if low <= digits[: len(low)] <= high:
                return name
    return None


def card_score(candidate: str) -> float | None:
    """How sure a card number ``candidate`` is (see the module docstring); None when it is not one."""
    digits = "".join(c for c in candidate if c.isdigit())
    if not 12 <= len(digits) <= 19 or not luhn_ok(digits):
        return None
    scheme = scheme_of(digits)
    if scheme is None:
        return LUHN_ONLY
    if len(digits) <= 13:
        return SHORT_FORM
    return STRONG


def best_card(run: str) -> tuple[int, float] | None:
    """(length, score) of the card number a digit run starts with: the whole run, or its longest prefix that
    ends at a group boundary (a card followed by its expiry or CVV: ``4111 1111 1111 1111 123``). A run of
    more than 19 digits plus a trailing group is a longer number (a tracking number), never a card."""
    cuts = [i for i, c in enumerate(run) if c in _SEPARATORS] + [len(run)]
    cuts.reverse()
    if sum(c.isdigit() for c in run[: cuts[1] if len(cuts) > 1 else len(run)]) > 19:
        return None
    for cut in cuts:
        score = card_score(run[:cut])
        if score is not None:
            return cut, score
    return None


_LEADING_COUNT = re.compile(r"[0-9]{1,3}[ -]")


def _leading_count(run: str) -> int:
    """How many characters of ``run`` are a short number written before a card of a scheme (``Card 1 4539 1488
    0343 6467``, ``room 12 4539...``): a count or item number, not the card's first group. 0 when none."""
    lead = _LEADING_COUNT.match(run)
    if lead is None or best_card(run) is not None:
        return 0
    rest = best_card(run[lead.end() :])
    return lead.end() if rest is not None and rest[1] == STRONG else 0


class CardRecognizer(PatternRecognizer):
    """CREDIT_CARD: the candidate pattern above, scored by ``card_score``; context words lift the score."""

    PATTERNS: ClassVar[list[Pattern]] = [Pattern("card number 12-19 digits", _CANDIDATE, LUHN_ONLY)]
    RESULTS_FROM_PATTERNS: ClassVar[bool] = True  # ``analyze`` trims and rescores its pattern's matches (digit_bound)

    def __init__(self) -> None:
        super().__init__(supported_entity="CREDIT_CARD", patterns=self.PATTERNS, context=CONTEXT, name="card")

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None, regex_flags: int | None = None
    ) -> list[RecognizerResult]:
        out = []
        for result in super().analyze(text, entities, nlp_artifacts, regex_flags):
            result.start += _leading_count(text[result.start : result.end])
            found = best_card(text[result.start : result.end])
            if found is not None:
                result.end = result.start + found[0]
                result.score = found[1]
                out.append(result)
        return out
