"""The fourth round of evasion through HTTP: one real gateway (real model, Presidio, SQLite) on the shipped policy.
Each identifier here was embedded or stored before ``gateway.pii.readings``: a letter between groups, a base64
encoding, one group per input of a batch, one group per metadata value; PII-free look-alikes still pass."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from tests.integration.server import GatewayProcess

pytestmark = pytest.mark.slow
MODEL = "all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def gw(session_gateway: GatewayProcess) -> GatewayProcess:
    """The session's gateway (``tests/conftest.py``): the shipped policy; this module's collection is ``evasion``."""
    return session_gateway


@pytest.fixture(scope="module")
def key(gw: GatewayProcess) -> str:
    return gw.make_key("acme", "app", "writer")


def call(gw: GatewayProcess, key: str, path: str, body: Any) -> httpx.Response:
    return httpx.post(gw.url + path, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=300)


@pytest.mark.parametrize("value", ["536x90x4721", base64.b64encode(b"4539 1488 0343 6467").decode(),
                                   "536 apple 90 banana 4721", "4S39 I488 O343 6467"])
def test_when_an_identifier_needs_reassembling_then_embeddings_refuse_it(
    gw: GatewayProcess, key: str, value: str
) -> None:
    r = call(gw, key, "/v1/embeddings", {"model": MODEL, "input": f"note: {value}"})
    assert r.status_code == 422, r.text
    assert value not in r.text


# The fifth round (issue 17): number words with a word, an underscore or CamelCase between them, accented French,
# digits among number words, quoted-printable escapes, base32 and base85.
FIFTH_ROUND = ["zero seven eight dash zero five dash one one two zero", "zero_seven_eight_zero_five_one_one_two_zero",
               "ZeroSevenEightZeroFiveOneOneTwoZero", "z\u00e9ro sept huit z\u00e9ro cinq un un deux z\u00e9ro",
               "4111 one one one one 1111 1111", "=30=37=38-=30=35-=31=31=32=30",
               base64.b32encode(b"4111 1111 1111 1111").decode(), base64.b85encode(b"078-05-1120").decode()]


@pytest.mark.parametrize("value", FIFTH_ROUND)
def test_when_number_words_escapes_or_base32_85_hide_an_identifier_then_embeddings_refuse_it(
    gw: GatewayProcess, key: str, value: str
) -> None:
    r = call(gw, key, "/v1/embeddings", {"model": MODEL, "input": f"ssn {value}"})
    assert r.status_code == 422, r.text
    assert value not in r.text


def test_when_text_only_looks_like_the_fifth_round_then_it_is_embedded(gw: GatewayProcess, key: str) -> None:
    texts = ["We met one-to-one; it is not a zero-sum game.", "Version 2.0.1 of OneNote ships with TwoFactor.",
             "limit=20 offset=40 page=3"]
    r = call(gw, key, "/v1/embeddings", {"model": MODEL, "input": texts})
    assert r.status_code == 200, r.text


def test_when_a_batch_holds_one_group_per_input_then_it_is_refused(gw: GatewayProcess, key: str) -> None:
    r = call(gw, key, "/v1/embeddings", {"model": MODEL, "input": ["536", "90", "4721"]})
    assert r.status_code == 422, r.text
    r = call(gw, key, "/v1/embeddings", {"model": MODEL, "input": ["4539", "1488", "0343", "6467"]})
    assert r.status_code == 422, r.text
    ok = call(gw, key, "/v1/embeddings", {"model": MODEL, "input": ["room 3", "floor 12", "year 2024"]})
    assert ok.status_code == 200, ok.text


def test_when_metadata_values_hold_one_group_each_then_the_document_is_blocked(gw: GatewayProcess, key: str) -> None:
    admin = gw.make_key("acme", "admin", "admin")
    r = call(gw, admin, "/v1/collections", {"name": "evasion", "model": MODEL})
    assert r.status_code == 201, r.text
    docs = [{"id": "split", "text": "A note about the weather.", "metadata": {"a": "536", "b": "90", "c": "4721"}},
            {"id": "plain", "text": "A note about the weather.", "metadata": {"floor": "3", "room": "204"}}]
    r = call(gw, key, "/v1/collections/evasion/documents", {"documents": docs})
    assert r.status_code == 200, r.text
    status = {x["document_id"]: x["status"] for x in r.json()["results"]}
    assert status == {"split": "blocked", "plain": "stored"}, r.json()
