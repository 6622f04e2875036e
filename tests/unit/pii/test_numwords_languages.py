"""Digit words of more languages (session 13's outside attack: number words in Italian, Portuguese, Dutch, Polish,
Russian, Turkish, Swedish, Hindi and Japanese romaji passed): the detection view reads a run of seven digits or more
of them as digits, however the view spells the words (accents folded, Cyrillic look-alikes read as Latin), and
ordinary text with the short ones (``en``, ``go``, ``ni``, ``due``) stays as written."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.pii.decide import decide
from gateway.pii.normalize import detection_view, normalize
from gateway.policy.loader import GatewayPolicy

DIGIT_WORDS = {
    "italian": "zero uno due tre quattro cinque sei sette otto nove",
    "portuguese": "zero um dois três quatro cinco seis sete oito nove",
    "dutch": "nul een twee drie vier vijf zes zeven acht negen",
    "polish": "zero jeden dwa trzy cztery pięć sześć siedem osiem dziewięć",
    "russian": "ноль один два три четыре пять шесть семь восемь девять",
    "turkish": "sıfır bir iki üç dört beş altı yedi sekiz dokuz",  # noqa: RUF001
    "swedish": "noll ett två tre fyra fem sex sju åtta nio",
    "hindi": "शून्य एक दो तीन चार पांच छह सात आठ नौ",
    "romaji": "rei ichi ni san yon go roku nana hachi kyū",
}
OTHER_FORMS = {  # the other words for some digits
    "portuguese": "zero uma duas três quatro cinco seis sete oito nove",
    "polish": "zero jedna dwie trzy cztery pięć sześć siedem osiem dziewięć",
    "russian": "нуль одна две три ЧЕТЫРЕ Пять ШЕСТЬ СЕМЬ Восемь ДЕВЯТЬ",  # noqa: RUF001
    "swedish": "noll en två tre fyra fem sex sju åtta nio",
    "hindi": "शून्य एक दो तीन चार पाँच छः सात आठ नौ",
    "romaji": "zero ichi ni san shi go roku shichi hachi kyuu",
    "romaji, ku": "maru ichi ni san yon go roku nana hachi ku",
}
SSN, CARD = "536904721", "4539148803436467"  # a made-up SSN and a Luhn-valid card number


def spelled(digits: str, words: str, groups: tuple[int, ...], between: str = " - ") -> str:
    names = words.split()
    out, at = [], 0
    for n in groups:
        out.append(" ".join(names[int(c)] for c in digits[at : at + n]))
        at += n
    return between.join(out)


LANGUAGES = sorted(DIGIT_WORDS)


@pytest.mark.parametrize("language", LANGUAGES)
def test_when_an_ssn_is_spelled_in_digit_words_then_the_view_reads_it(language: str) -> None:
    text = "ssn " + spelled(SSN, DIGIT_WORDS[language], (3, 2, 4))
    assert detection_view(normalize(text)).text == "ssn 536-90-4721"


@pytest.mark.parametrize("language", LANGUAGES + sorted(OTHER_FORMS))
def test_when_a_card_is_spelled_in_digit_words_then_the_view_reads_it(language: str) -> None:
    words = OTHER_FORMS.get(language) or DIGIT_WORDS[language]
    for digits in (CARD, "0123456789"):
        text = "card " + spelled(digits, words, (len(digits),))
        assert detection_view(normalize(text)).text == "card " + digits, text


def test_when_russian_words_are_in_capitals_then_the_view_reads_them_although_che_reads_as_four() -> None:
    text = "ЧЕТЫРЕ ПЯТЬ ТРИ ДЕВЯТЬ ОДИН ЧЕТЫРЕ ВОСЕМЬ ВОСЕМЬ НОЛЬ ТРИ ЧЕТЫРЕ ТРИ ШЕСТЬ ЧЕТЫРЕ ШЕСТЬ СЕМЬ"  # noqa: RUF001
    assert detection_view(normalize(text)).text == CARD


@pytest.mark.parametrize(
    "text",
    [
        "We go en route to San Jose, due to the rain; um, ni hao.",
        "Dit is een twee-onder-een-kap woning met drie kamers.",
        "Ett barn, en katt och sex hundar bor i huset.",
        "Bir iki gün sonra, sekiz kişi geldi.",
        "एकता और दोस्ती से तीन चार लोग आए।",  # एक inside एकता, दो inside दोस्ती: no digit words
        "hyphen minus dash and seven",
        "Il tre e il sei sono numeri; go go go!",
    ],
)
def test_when_ordinary_text_has_short_digit_words_then_the_view_leaves_it(text: str) -> None:
    canonical = normalize(text)
    view = detection_view(canonical).text
    assert sum(c.isdigit() for c in view) == sum(c.isdigit() for c in canonical), view


def test_when_a_hindi_digit_word_starts_a_longer_word_then_it_is_not_read() -> None:
    text = "एकता दो तीन चार पांच छह सात आठ"  # seven digit words after एकता (unity): 2345678
    assert detection_view(normalize(text)).text.startswith("एकता 2345678")


@pytest.mark.slow
def test_when_ssns_and_cards_are_spelled_in_any_of_these_languages_then_the_real_detector_blocks_them(
    presidio: Any, shipped_policy: GatewayPolicy
) -> None:
    texts = [f"ssn {spelled(SSN, w, (3, 2, 4))}" for w in DIGIT_WORDS.values()]
    texts += [spelled(CARD, w, (4, 4, 4, 4)) for w in [*DIGIT_WORDS.values(), *OTHER_FORMS.values()]]
    scope = shipped_policy.scope("acme")
    canonical = [normalize(t) for t in texts]
    found = presidio.analyze(canonical, [scope] * len(canonical))
    passed = [t for t, c, f in zip(texts, canonical, found, strict=True) if not decide(c, f, scope, b"k").blocked]
    assert not passed, passed
