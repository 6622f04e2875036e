"""Evasion as classes, swept through the real detector and policy: every code point that renders as nothing or as
a blank (enumerated from the Unicode data across the whole range, by category), every ASCII punctuation separator,
words glued to identifiers, character references and spelled digits, against an SSN, a card number and an IBAN."""

from __future__ import annotations

import itertools
import string
import unicodedata
from collections import Counter
from typing import Any

import pytest

from gateway.pii.decide import decide
from gateway.pii.evasion import is_blank, is_invisible
from gateway.pii.normalize import detection_view, normalize
from gateway.policy.loader import GatewayPolicy

pytestmark = pytest.mark.slow

# Groups of a (made-up, well-formed) SSN, a Luhn-valid card number and a valid IBAN.
IDENTIFIERS = {
    "US_SSN": ["536", "90", "4721"],
    "CREDIT_CARD": ["4539", "1488", "0343", "6467"],
    "IBAN_CODE": ["GB82", "WEST", "1234", "5698", "7654", "32"],
}
HIDDEN = [cp for cp in range(0x80, 0x110000) if not 0xD800 <= cp <= 0xDFFF and (is_invisible(cp) or is_blank(cp))]


def _blocked(detector: Any, policy: GatewayPolicy, texts: list[str]) -> list[bool]:
    scope = policy.scope("acme")
    canonical = [normalize(t) for t in texts]
    out: list[bool] = []
    for start in range(0, len(canonical), 512):
        batch = canonical[start : start + 512]
        findings = detector.analyze(batch, [scope] * len(batch))
        out.extend(decide(t, f, scope, b"k").blocked for t, f in zip(batch, findings, strict=True))
    return out


def _assert_all_blocked(detector: Any, policy: GatewayPolicy, cases: dict[str, str]) -> None:
    names = list(cases)
    blocked = _blocked(detector, policy, [cases[n] for n in names])
    passed = [n for n, b in zip(names, blocked, strict=True) if not b]
    assert not passed, f"{len(passed)} of {len(names)} evasions passed, e.g. {passed[:8]}"


def test_the_sweep_covers_every_hidden_category_across_the_whole_range() -> None:
    categories = Counter(unicodedata.category(chr(cp)) for cp in HIDDEN)
    assert {"Cf", "Mn", "Me", "Zs"} <= set(categories) and len(HIDDEN) > 5000
    assert {0xFE0F, 0x3164, 0x115F, 0x1160, 0xFFA0, 0x2800, 0x200B, 0xE0041, 0xE0100} <= set(HIDDEN)


@pytest.mark.parametrize("entity", sorted(IDENTIFIERS))
def test_when_an_invisible_character_sits_between_every_character_then_the_identifier_is_blocked(
    presidio: Any, shipped_policy: GatewayPolicy, entity: str
) -> None:
    groups = IDENTIFIERS[entity]
    cases = {f"U+{cp:04X}": "-".join(chr(cp).join(g) for g in groups) for cp in HIDDEN if is_invisible(cp)}
    _assert_all_blocked(presidio, shipped_policy, cases)


@pytest.mark.parametrize("entity", sorted(IDENTIFIERS))
def test_when_a_blank_glyph_separates_the_groups_then_the_identifier_is_blocked(
    presidio: Any, shipped_policy: GatewayPolicy, entity: str
) -> None:
    groups = IDENTIFIERS[entity]
    cases = {f"U+{cp:04X}": chr(cp).join(groups) for cp in HIDDEN if is_blank(cp)}
    assert len(cases) >= 20
    _assert_all_blocked(presidio, shipped_policy, cases)


SEPARATORS = [c for c in string.punctuation] + ["\t", " / ", " | ", "--", "__", ":\t", ", "]


@pytest.mark.parametrize("entity", sorted(IDENTIFIERS))
def test_when_any_punctuation_run_separates_the_groups_then_the_identifier_is_blocked(
    presidio: Any, shipped_policy: GatewayPolicy, entity: str
) -> None:
    groups = IDENTIFIERS[entity]
    _assert_all_blocked(presidio, shipped_policy, {repr(s): s.join(groups) for s in SEPARATORS})


# Mixed separators: every ordered pair of distinct separators from this set, alternating between the groups.
MIXED = ["-", " ", ".", "/", "_", ":", ",", "+", "|", "~", "#", "*", "\t", " / ", " - ", "--"]


def _alternate(groups: list[str], first: str, second: str) -> str:
    out = groups[0]
    for i, group in enumerate(groups[1:]):
        out += (first if i % 2 == 0 else second) + group
    return out


@pytest.mark.parametrize("entity", sorted(IDENTIFIERS))
def test_when_two_different_separators_alternate_between_the_groups_then_the_identifier_is_blocked(
    presidio: Any, shipped_policy: GatewayPolicy, entity: str
) -> None:
    groups = IDENTIFIERS[entity]
    cases = {f"{a!r}+{b!r}": _alternate(groups, a, b) for a, b in itertools.permutations(MIXED, 2)}
    assert len(cases) == 240
    assert entity != "US_SSN" or {"536/90-4721", "536 / 90 - 4721"} <= set(cases.values())
    _assert_all_blocked(presidio, shipped_policy, cases)


def _groupings(digits: str) -> list[str]:
    """Every way to split ``digits`` into 3 to 5 groups of 1 to 4 digits, one space apart."""
    out = []
    for cuts in itertools.chain.from_iterable(itertools.combinations(range(1, len(digits)), k) for k in (2, 3, 4)):
        groups = [digits[a:b] for a, b in itertools.pairwise((0, *cuts, len(digits)))]
        if all(len(g) <= 4 for g in groups):
            out.append(" ".join(groups))
    return out


def test_when_an_ssn_is_spaced_irregularly_beside_its_word_then_it_is_blocked(
    presidio: Any, shipped_policy: GatewayPolicy
) -> None:
    cases = {g: f"my ssn is {g}." for g in _groupings("536904721")}
    assert len(cases) > 100 and "53 69 04 721" in cases
    _assert_all_blocked(presidio, shipped_policy, cases)


def test_when_an_identifier_is_glued_to_a_word_then_it_is_blocked(presidio: Any, shipped_policy: GatewayPolicy) -> None:
    cases = {t: t for t in [
        "ssn536-90-4721", "SSN536-90-4721", "my ssn:536-90-4721.", "id_536-90-4721", "536-90-4721ssn",
        "card_4539148803436467", "card4539-1488-0343-6467", "cardnumber_4539 1488 0343 6467",
        "iban:GB82WEST12345698765432", "iban_GB82_WEST_1234_5698_7654_32",
    ]}
    _assert_all_blocked(presidio, shipped_policy, cases)


def test_when_digits_are_written_as_references_or_words_then_the_identifier_is_blocked(
    presidio: Any, shipped_policy: GatewayPolicy
) -> None:
    cases = {t: t for t in [
        "&#53;&#51;&#54;-&#57;&#48;-&#52;&#55;&#50;&#49;", "&#x35;&#x33;&#x36;-90-4721", "%35%33%36%2D90%2D4721",
        "ssn five three six nine zero four seven two one", "Five Three Six - Nine Zero - Four Seven Two One",
        "card four five three nine one four eight eight zero three four three six four six seven",
    ]}
    _assert_all_blocked(presidio, shipped_policy, cases)


BENIGN = [
    "Call 555-123-4567 on 2024/01/15 about order 12345.",
    "Invoice 2024-0042 dated 01/15/2024 for $1,234.56, due 2024-02-14.",
    "Meeting at 10:30:45 on 2024/12/31 in room 4-112.",
    "Ref 12/34/5678, batch 2024_01_15, version 1.2.3.4",
    "Quantities: 12, 7 and 30; prices 4.99/5.49/6.99.",
    "Tracking 1Z999AA10123456784 left the depot.",
    "The build 20240115_1030 passed 1234 tests in 56 s.",
    "one two three, testing the microphone; five or six people came.",
    "Paid $1,810,144,999.13 on 2024-05-06 10:30:45.123456 (batch 20240506_1030).",
    "Job finished at 2024-05-06T12:34:56Z (1714998896); prices 4.99/5.49/6.99.",
    "GPS fix at 40.712776, -74.005974 logged 2021-02-14T13:34:50Z.",
    "Rows 12 34 56 78 90 11 and 2 40 120 300; call 1 800 555 12 today.",
]


def test_when_ordinary_business_text_has_numbers_then_nothing_is_blocked(
    presidio: Any, shipped_policy: GatewayPolicy
) -> None:
    assert _blocked(presidio, shipped_policy, BENIGN) == [False] * len(BENIGN)


def test_when_a_redacted_phone_number_hides_behind_fillers_then_no_digit_survives_redaction(
    presidio: Any, shipped_policy: GatewayPolicy
) -> None:
    scope = shipped_policy.scope("acme")
    text = normalize("call 555\u3164123\u31644567 or %35%35%35-123-4567 now")
    [findings] = presidio.analyze([text], [scope])
    decision = decide(text, findings, scope, b"k")
    assert not decision.blocked and not any(c.isdigit() for c in decision.text), decision.text


def test_when_the_view_drops_or_replaces_characters_then_every_span_maps_inside_the_canonical_text() -> None:
    canonical = normalize("a\u200b&#53;\u3164five three six nine zero four seven two one_536/90/4721ssn")
    view = detection_view(canonical)
    for start in range(len(view.text)):
        for end in range(start, len(view.text) + 1):
            s, e = view.to_canonical(start, end)
            assert 0 <= s <= e <= len(canonical)
