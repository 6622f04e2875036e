"""Identifiers written in numerals and in digit words of more languages, through HTTP (session 13's outside attack:
parenthesized digits, Han and Roman numerals and the number words of nine more languages were embedded).

One real gateway (real Presidio, spaCy, model) on the shipped policy; an SSN and a Luhn-valid card written each new
way is refused on ``POST /v1/embeddings`` (422, ``pii_blocked``), and CJK and Roman-numbered PII-free sentences
are embedded (200).
"""

from __future__ import annotations

import httpx
import pytest

from tests.integration.server import GatewayProcess
from tests.unit.pii.test_numerals import FORMS, PII_FREE, written
from tests.unit.pii.test_numwords_languages import DIGIT_WORDS, spelled

pytestmark = pytest.mark.slow
MODEL = "all-MiniLM-L6-v2"
SSN, CARD = "536-90-4721", "4539 1488 0343 6467"


@pytest.fixture(scope="module")
def key(gateway: GatewayProcess) -> str:
    return gateway.make_key("globex", "app", "writer")


def embed(gw: GatewayProcess, key: str, text: str) -> httpx.Response:
    return httpx.post(gw.url + "/v1/embeddings", json={"model": MODEL, "input": text},
                      headers={"Authorization": f"Bearer {key}"}, timeout=120)  # fmt: skip


def assert_refused(gw: GatewayProcess, key: str, text: str) -> None:
    r = embed(gw, key, text)
    assert r.status_code == 422 and r.json()["error"]["code"] == "pii_blocked", (text, r.text)


@pytest.mark.parametrize("form", sorted(FORMS))
def test_when_an_ssn_or_a_card_is_written_one_numeral_a_digit_then_embeddings_refuse_it(
    gateway: GatewayProcess, key: str, form: str
) -> None:
    assert_refused(gateway, key, f"My SSN is {written(SSN, FORMS[form])}.")
    assert_refused(gateway, key, f"Card: {written(CARD, FORMS[form])}")


@pytest.mark.parametrize("language", sorted(DIGIT_WORDS))
def test_when_an_ssn_or_a_card_is_spelled_in_another_language_then_embeddings_refuse_it(
    gateway: GatewayProcess, key: str, language: str
) -> None:
    words = DIGIT_WORDS[language]
    assert_refused(gateway, key, "ssn " + spelled(SSN.replace("-", ""), words, (3, 2, 4)))
    assert_refused(gateway, key, spelled(CARD.replace(" ", ""), words, (4, 4, 4, 4)))


def test_when_cjk_and_roman_numbered_sentences_hold_no_pii_then_they_are_embedded(
    gateway: GatewayProcess, key: str
) -> None:
    for text in PII_FREE:
        r = embed(gateway, key, text)
        assert r.status_code == 200, (text, r.text)
