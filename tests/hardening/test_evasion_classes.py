"""Evasion classes an outside attacker found after the first sweep (issue 17), each through the real detector and the
shipped policy: separator runs of any length, digits and letters in other forms, named character references and
escaped separators, spelled digits in groups, SSNs grouped otherwise, IBANs in any grouping or case. Each class is
generated, not listed, and each test failed before its fix; PII-free look-alikes stay unblocked."""

from __future__ import annotations

import itertools
import string
import sys
import unicodedata
from typing import Any

import pytest

from gateway.policy.loader import GatewayPolicy
from tests.hardening.kit import assert_all_blocked, evasions_passed

pytestmark = pytest.mark.slow

SSN = ["536", "90", "4721"]
CARD = ["4539", "1488", "0343", "6467"]
IBAN = ["GB82", "WEST", "1234", "5698", "7654", "32"]


# Separator runs of 1 to 8 characters built from every ASCII punctuation mark and the blanks.
RUN_CHARS = [c for c in string.punctuation if c not in "()"] + [" ", "\t"]


def _runs() -> list[str]:
    runs = [c * n for c in RUN_CHARS for n in (4, 8)]
    runs += [f" {a}{b} " for a, b in itertools.permutations(",;.-/|", 2)]
    return [*runs, " - - ", "..,..", " ,, ", ";;;;;", "-_-_-", " . . . "]


@pytest.mark.parametrize("groups", [SSN, CARD, IBAN], ids=["ssn", "card", "iban"])
def test_when_any_separator_run_of_any_length_joins_the_groups_then_the_identifier_is_blocked(
    detector: Any, policy: GatewayPolicy, groups: list[str]
) -> None:
    runs = _runs()
    assert "536,,,,90,,,,4721" in {",,,,".join(SSN)} and len(runs) > 80
    assert_all_blocked(detector, policy, [run.join(groups) for run in runs])


def _digit_forms() -> dict[int, list[str]]:
    """Every character of every script with a digit value that NFKC leaves a non-ASCII character (other scripts'
    decimal digits survive NFKC; dingbat and negative circled digits too), per value."""
    forms: dict[int, list[str]] = {d: [] for d in range(10)}
    for cp in range(0x80, sys.maxunicode + 1):
        ch = chr(cp)
        value = unicodedata.digit(ch, None)
        if value is not None and not unicodedata.normalize("NFKC", ch).isascii():
            forms[value].append(ch)
    return forms


def test_when_the_digits_are_written_in_any_other_form_then_the_ssn_is_blocked(
    detector: Any, policy: GatewayPolicy
) -> None:
    forms = _digit_forms()
    assert {"\u277a", "\u0665", "\u096b"} <= set(forms[5]) and "\u24ff" in forms[0]  # ❺, Arabic-Indic, Devanagari, ⓿
    width = max(len(f) for f in forms.values())
    texts = ["-".join("".join(forms[int(d)][i % len(forms[int(d)])] for d in g) for g in SSN) for i in range(width)]
    texts += ["❺❸❻-❾⓿-❹❼❷❶", "⑤③⑥-⑨⓪-④⑦②①", "ssn ⒌⒊⒍⒐🄀⒋⒎⒉⒈", "⒌⒊⒍-⒐🄀-⒋⒎⒉⒈"]
    assert_all_blocked(detector, policy, texts)


def _letter_forms() -> dict[str, list[str]]:
    """Every letter or symbol named as a Latin capital letter drawn another way (small capitals, negative circled
    and squared letters, regional indicators) that NFKC does not make ASCII."""
    forms: dict[str, list[str]] = {c: [] for c in string.ascii_uppercase}
    markers = ("LATIN LETTER SMALL CAPITAL ", "LATIN CAPITAL LETTER ", "REGIONAL INDICATOR SYMBOL LETTER ")
    for cp in range(0x80, sys.maxunicode + 1):
        ch = chr(cp)
        name = unicodedata.name(ch, "")
        if unicodedata.category(ch) not in {"Lu", "Ll", "Lo", "So"} or unicodedata.normalize("NFKC", ch).isascii():
            continue
        for marker in markers:
            head, found, letter = name.rpartition(marker)
            if found and len(letter) == 1 and (not head or head.endswith(" ")):
                forms[letter].append(ch)
    return forms


def test_when_the_letters_of_an_iban_are_small_capitals_or_other_latin_forms_then_it_is_blocked(
    detector: Any, policy: GatewayPolicy
) -> None:
    forms = _letter_forms()
    assert "ᴇ" in forms["E"] and "ɢ" in forms["G"] and "🅦" in forms["W"]
    width = max(len(forms[c]) for c in "GBWEST")
    texts = [
        " ".join("".join(forms[c][i % len(forms[c])] if c.isalpha() else c for c in g) for g in IBAN)
        for i in range(width)
    ]
    assert_all_blocked(detector, policy, [*texts, "GB82WᴇST12345698765432"])


SEPARATOR_CHARACTERS = ["-", " ", "\u2013", "\u2014", "\u2212", "\u2010", "\u00a0", "\u2009", "\t", "\n", ".", "/"]


def test_when_a_separator_is_a_named_character_reference_or_an_escape_then_the_identifier_is_blocked(
    detector: Any, policy: GatewayPolicy
) -> None:
    import html.entities

    names = [n for n, v in html.entities.html5.items() if n.endswith(";") and v in SEPARATOR_CHARACTERS]
    assert {"ndash;", "minus;", "nbsp;", "hyphen;"} <= set(names)
    texts = [f"&{n}".join(SSN) for n in names] + [f"&{n}".join(CARD) for n in names]
    texts += [f"%{ord(c):02X}".join(SSN) for c in "- ./"] + [f"%{ord(c):02x}".join(CARD) for c in "- ./"]
    assert_all_blocked(detector, policy, texts)


SPELLED = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def _spoken(pair: str) -> str:
    """A two-digit group as people say it: ``ninety``, ``forty-seven``, ``twenty-one``."""
    tens, unit = int(pair[0]), int(pair[1])
    return TENS[tens] + ("" if unit == 0 else f"-{SPELLED[unit]}")


def test_when_spelled_digits_are_grouped_with_hyphens_or_said_as_numbers_then_the_ssn_is_blocked(
    detector: Any, policy: GatewayPolicy
) -> None:
    area, group, serial = (" ".join(SPELLED[int(d)] for d in g) for g in SSN)
    hyphened = ["-".join(SPELLED[int(d)] for d in g) for g in SSN]
    texts = [
        f"ssn {hyphened[0]} {_spoken(SSN[1])} {_spoken(SSN[2][:2])} {_spoken(SSN[2][2:])}",
        f"ssn {' '.join(hyphened)}",
        f"{area} - {group} - {serial}",
        f"{area}, {group}, {serial}",
        f"ssn {'-'.join(hyphened)}",
        f"social security {hyphened[0]}, {_spoken(SSN[1])}, {hyphened[2]}",
    ]
    assert texts[0] == "ssn five-three-six ninety forty-seven twenty-one"
    assert_all_blocked(detector, policy, texts)


def test_when_an_ssn_is_bracketed_or_grouped_otherwise_beside_its_word_then_it_is_blocked(
    detector: Any, policy: GatewayPolicy
) -> None:
    digits = "".join(SSN)
    shapes = [(3, 3, 3), (4, 5), (5, 4), (3, 6), (6, 3), (2, 3, 4), (4, 4, 1), (3, 4, 2)]
    grouped = []
    for shape in shapes:
        cuts = list(itertools.accumulate(shape))
        grouped.append("-".join(digits[a:b] for a, b in itertools.pairwise([0, *cuts])))
    texts = [f"{word} {g}" for word in ("ssn", "social security number") for g in grouped]
    texts += ["(536)90-4721", "(536) 90-4721", "ssn (536)-90-4721", "ssn: (536) 90 4721"]
    assert_all_blocked(detector, policy, texts)


def test_when_an_iban_is_grouped_any_way_or_written_in_lower_case_then_it_is_blocked(
    detector: Any, policy: GatewayPolicy
) -> None:
    compact = "".join(IBAN)
    texts = []
    for size in range(2, 9):
        chunks = [compact[i : i + size] for i in range(0, len(compact), size)]
        texts += [" ".join(chunks), " ".join(chunks).lower(), "-".join(chunks)]
    texts += ["GB 82 WEST 123456 98765432", "GB82 WEST 1234 5698 7654 32", "de89 3704 0044 0532 0130 00",
              "iban de89370400440532013000", "pay to gb82west12345698765432 today",
              "no 12 GB82 WEST 1234 5698 7654 32", "ab12 GB82 WEST 1234 5698 7654 32",
              "is 12 de89 3704 0044 0532 0130 00"]  # fmt: skip
    assert_all_blocked(detector, policy, texts)


def test_when_pii_free_text_looks_like_these_classes_then_it_is_not_blocked(
    detector: Any, policy: GatewayPolicy
) -> None:
    benign = [
        "Scores: 12,,,,34,,,,56 and 7 - - 8 - - 9 points.",
        "The build ran 1,234 tests in 56 s &ndash; all green &nbsp; (see 100%2D200).",
        "gb82 is a code name; west 1234 was the old office, room 5698.",
        "Call (510)848-2988 about order 12345 on 2024-01-15.",
        "one two three, testing the microphone; five or six people came at twenty past nine.",
        "Chapter ❺ of ⑩, rows ⑤③ and ٥٣.",
        "de 89 is not an account: de89 3704 0044 0532 0130 01 fails its check digits.",
    ]
    assert evasions_passed(detector, policy, benign) == benign


MARKUP = ["<b>{}</b>", "<span class=\"x\">{}</span>", "{}<br>", "<td>{}</td>", "{}<!-- note -->", "<i>{}</i><wbr/>"]


@pytest.mark.parametrize("groups", [SSN, CARD, IBAN], ids=["ssn", "card", "iban"])
def test_when_markup_wraps_or_splits_the_groups_then_the_identifier_is_blocked(
    detector: Any, policy: GatewayPolicy, groups: list[str]
) -> None:
    # Found by the second outside attack: `<b>536</b>-<i>90</i>-<u>4721</u>` embedded with no finding. Glued
    # together, nine digits are an SSN beside its word, as in plain text.
    label = "ssn " if groups is SSN else ""
    texts = []
    for wrap in MARKUP:
        texts.append("-".join(wrap.format(g) for g in groups))
        texts.append(label + "".join(wrap.format(g) for g in groups))
        texts.append(label + groups[0] + wrap.format("") + "-".join(groups[1:]))
    assert_all_blocked(detector, policy, texts)


def test_when_separators_are_written_as_text_escapes_then_the_ssn_is_blocked(
    detector: Any, policy: GatewayPolicy
) -> None:
    texts = [f"ssn 536{e}90{e}4721" for e in ("\\u002d", "\\u002D", "\\u0020", "\\u2013")]
    assert_all_blocked(detector, policy, texts)


def test_when_markup_surrounds_ordinary_numbers_then_nothing_is_blocked(
    detector: Any, policy: GatewayPolicy
) -> None:
    benign = ["the price is <b>5</b> dollars for <i>3</i> items", "<td>2024</td><td>01</td><td>15</td>",
              "<p>Order 12345</p><p>Qty 7</p>", "see <a href=\"https://example.com/p?id=123\">page 4</a>"]
    assert evasions_passed(detector, policy, benign) == benign


@pytest.mark.parametrize("metadata", [{"ssn": "536904721"}, {"ssn": 536904721}, {"SSN": "536 90 4721"},
                                      {"social security number": "536904721"}])
def test_when_a_metadata_key_names_what_its_value_is_then_the_value_is_read_in_that_context(
    detector: Any, policy: GatewayPolicy, metadata: dict[str, Any]
) -> None:
    # The second outside attack stored {"ssn": "536904721"}: a bare nine-digit value, screened without its key.
    import asyncio
    from types import SimpleNamespace

    from gateway.pii.fields import screen_documents

    scope = policy.scope("acme")

    async def detect(texts: list[str], scope: Any) -> list[Any]:
        return list(detector.analyze(texts, [scope] * len(texts)))

    doc = SimpleNamespace(id="d1", metadata=metadata)
    (verdict,) = asyncio.run(screen_documents(detect, [doc], scope, b"k"))
    assert "US_SSN" in verdict.blocked_types
    (clean,) = asyncio.run(screen_documents(detect, [SimpleNamespace(id="d2", metadata={"order": "536904721"})],
                                            scope, b"k"))
    assert not clean.blocked_types  # the same digits under an ordinary key stay a label
