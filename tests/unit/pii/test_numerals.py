"""Han and Roman numerals and parenthesized digits written one per digit (session 13's outside attack: ``⑷⑸⑶⑼...``,
``四五三九...``, ``ⅣⅤⅢⅨ...`` were embedded): the detection view reads them as digits in runs that read as one
number, maps every finding back to what was written, and leaves CJK prose and Roman-numbered text as it was."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.pii.decide import decide
from gateway.pii.normalize import detection_view, normalize
from gateway.policy.loader import GatewayPolicy

SSN, CARD = "536-90-4721", "4539 1488 0343 6467"  # a made-up SSN and a Luhn-valid card number
HAN = dict(zip("0123456789", "\u3007一二三四五六七八九", strict=True))
FINANCIAL = dict(zip("0123456789", "零壹贰叁肆伍陆柒捌玖", strict=True))
TRADITIONAL = FINANCIAL | {"2": "貳", "3": "參", "6": "陸"}
ROMAN = {str(d): chr(0x215F + d) for d in range(1, 10)}  # no Roman zero: a reader's 0 stays a digit
SMALL_ROMAN = {str(d): chr(0x216F + d) for d in range(1, 10)}
PARENTHESIZED = {str(d): chr(0x2473 + d) for d in range(1, 10)}
FORMS = {"han": HAN, "financial": FINANCIAL, "traditional": TRADITIONAL, "roman": ROMAN, "small roman": SMALL_ROMAN,
         "parenthesized": PARENTHESIZED}  # fmt: skip
# PII-free sentences with numerals, as CJK and Roman-numbered text has them.
PII_FREE = [
    "第三章 一个人的旅行", "我们一起去了三个地方，买了五本书。",  # noqa: RUF001
    "二〇二四年一月五日在北京开会。", "请看第一二三四五页。",
    "Chapter Ⅳ: the results of Ⅻ trials", "Part Ⅱ, section Ⅲ, item ⅳ", "See (1) and (2), then (3) 555-0100.",
    "Steps (1)(2)(3) take 25 minutes",
    "Louis ⅩⅣ reigned 72 years; Henry Ⅷ had 6 wives.",
]  # fmt: skip
COUNTING = "一二三四五六七八九十 is how children count in Chinese."  # read as 123456789: no identifier without a cue


def written(value: str, form: dict[str, str]) -> str:
    return "".join(form.get(c, c) for c in value)


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("value", [SSN, CARD, CARD.replace(" ", "")])
def test_when_an_identifier_is_written_one_numeral_a_digit_then_the_view_reads_it(form: str, value: str) -> None:
    text = f"my number is {written(value, FORMS[form])} thanks"
    view = detection_view(normalize(text))
    assert f"my number is {value} thanks" == view.text


def test_when_numerals_are_read_as_digits_then_a_span_of_the_view_maps_back_to_what_was_written() -> None:
    canonical = normalize("SSN ⑸⑶⑹-⑼0-⑷⑺⑵⑴ ok")
    assert canonical == "SSN (5)(3)(6)-(9)0-(4)(7)(2)(1) ok"
    view = detection_view(canonical)
    start = view.text.index(SSN)
    assert view.to_canonical(start, start + len(SSN)) == (4, len(canonical) - 3)
    roman = normalize("id ⅤⅢⅥ-Ⅸ0-ⅣⅦⅡⅠ")
    view = detection_view(roman)
    assert view.text == "id " + SSN and view.to_canonical(3, 14) == (3, 14)


def test_when_the_han_zero_stands_alone_among_other_digits_then_it_reads_as_zero() -> None:
    # One numeral is no run; the Han zero is drawn as the digit, so the view reads it as a look-alike.
    assert detection_view(normalize("ssn 536-9\u3007-4721")).text == "ssn 536-90-4721"
    assert detection_view(normalize("⒌⒊⒍-⒐\u3007-⒋⒎⒉⒈")).text == "536-90-4721."
    assert detection_view(normalize("card 4539 1488 \u3007343 6467")).text == "card 4539 1488 0343 6467"


def test_when_roman_numerals_form_a_number_then_the_canonical_text_keeps_them_and_is_stable() -> None:
    # NFKC writes them as letters (VIIIVI) that no reader could split into digits again.
    for text in ["ⅤⅢⅥ-Ⅸ0-ⅣⅦⅡⅠ", "ⅣⅤⅢⅨ ⅠⅣⅧⅧ 0ⅢⅣⅢ ⅥⅣⅥⅦ", "x⑸Ⅳ⑹⑼0Ⅳ⑺⑵⑴", "Ⅴ\u0303ⅢⅥⅨ0ⅣⅦⅡⅠ", "ⅣⅤ\ufe63ⅢⅨ\u3000ⅠⅣⅧⅧ0"]:  # noqa: RUF001
        canonical = normalize(text)
        assert normalize(canonical) == canonical
        assert set(canonical) & set(ROMAN.values()), canonical
    # Elsewhere they are NFKC's letters, as before.
    assert normalize("Chapter Ⅳ and ⅡⅢ, Part Ⅱ 2024") == "Chapter IV and IIIII, Part II 2024"


@pytest.mark.parametrize("text", PII_FREE)
def test_when_cjk_or_roman_numbered_prose_has_numerals_then_the_view_makes_no_identifier_of_them(text: str) -> None:
    view = detection_view(normalize(text)).text
    assert sum(c.isdigit() for c in view) - sum(c.isdigit() for c in normalize(text)) < 7


@pytest.mark.slow
def test_when_ssns_and_cards_are_written_in_numerals_then_the_real_detector_blocks_them(
    presidio: Any, shipped_policy: GatewayPolicy
) -> None:
    texts = [written(v, form) for form in FORMS.values() for v in (SSN, CARD, CARD.replace(" ", "-"))]
    texts += [f"ssn {written(SSN.replace('-', ''), form)}" for form in FORMS.values()]
    texts += ["ssn 536-9\u3007-4721", "⒌⒊⒍-⒐\u3007-⒋⒎⒉⒈", "card 4539 1488 \u3007343 6467"]
    scope = shipped_policy.scope("acme")
    canonical = [normalize(t) for t in texts]
    found = presidio.analyze(canonical, [scope] * len(canonical))
    passed = [t for t, c, f in zip(texts, canonical, found, strict=True) if not decide(c, f, scope, b"k").blocked]
    assert not passed, passed


@pytest.mark.slow
def test_when_cjk_or_roman_numbered_prose_is_screened_then_no_number_is_found(
    presidio: Any, shipped_policy: GatewayPolicy
) -> None:
    scope = shipped_policy.scope("acme")
    texts = [*PII_FREE, COUNTING]
    canonical = [normalize(t) for t in texts]
    found = presidio.analyze(canonical, [scope] * len(canonical))
    assert not any(decide(c, f, scope, b"k").blocked for c, f in zip(canonical, found, strict=True))
    # Only the names (Louis XIV, Henry VIII); the counting's nine digits score as any bare number does (below 0.4).
    assert {f.entity_type for fs in found for f in fs if f.score >= 0.4} <= {"PERSON"}, found
