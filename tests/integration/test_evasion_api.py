"""Evasions of the PII policy over real HTTP (real model, Presidio and policy): a representative sample of each
class is refused by /v1/embeddings and never stored by ingest, so search cannot return it.

Before the fix each of these answered 200 with ``X-Gateway-PII: none`` and, through ingest, was stored and found."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.server import GatewayProcess

pytestmark = pytest.mark.slow
MODEL = "all-MiniLM-L6-v2"
EVASIONS = [
    "ssn 536\t90\t4721", "ssn 536/90/4721", "ssn 536_90_4721", "ssn 536:90:4721", "ssn 536,90,4721",
    "ssn 536|90|4721", "ssn 536~90~4721", "ssn 536#90#4721", "ssn 536*90*4721", "ssn 536+90+4721",
    "5\ufe0f3\ufe0f6-9\ufe0f0-4\ufe0f7\ufe0f2\ufe0f1", "536\u316490\u31644721", "536\u115f90\u115f4721",
    "536\uffa090\uffa04721", "536\u280090\u28004721", "ssn536-90-4721", "card_4539148803436467",
    "card 4539_1488_0343_6467", "card 4539/1488/0343/6467", "card 4539:1488:0343:6467", "4539,1488,0343,6467",
    "&#53;&#51;&#54;-90-4721", "%35%33%36%2D90%2D4721", "ssn five three six nine zero four seven two one",
    "iban GB82_WEST_1234_5698_7654_32", "G\u200bB\u200b8\u200b2 WEST 1234 5698 7654 32",
    # mixed separators
    "ssn 536/90-4721", "ssn 536 / 90 - 4721", "card 4539_1488-0343/6467", "iban GB82.WEST/1234.5698/7654.32",
    "my ssn is 53 69 04 721",
]


def _call(gw: GatewayProcess, key: str, method: str, path: str, body: Any = None) -> httpx.Response:
    return httpx.request(method, gw.url + path, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=120)


def test_when_an_evasion_is_embedded_then_it_is_refused_as_blocked_pii(gateway: GatewayProcess) -> None:
    key = gateway.make_key("acme", "eve", "writer")
    statuses = {}
    for text in EVASIONS:
        r = _call(gateway, key, "POST", "/v1/embeddings", {"model": MODEL, "input": f"Please note {text} today."})
        statuses[text] = (r.status_code, r.json().get("error", {}).get("code") if r.status_code != 200 else None)
    passed = {t: s for t, s in statuses.items() if s != (422, "pii_blocked")}
    assert not passed, passed


def test_when_evasions_are_ingested_then_none_is_stored_or_found_by_search(gateway: GatewayProcess) -> None:
    key = gateway.make_key("acme", "eve", "admin")
    assert _call(gateway, key, "POST", "/v1/collections", {"name": "evasions", "model": MODEL}).status_code == 201
    docs = [{"id": f"e{i}", "text": f"Customer record: {t}"} for i, t in enumerate(EVASIONS)]
    docs.append({"id": "plain", "text": "Customer record: the quarterly invoice was paid on 2024/01/15."})
    r = _call(gateway, key, "POST", "/v1/collections/evasions/documents", {"documents": docs})
    assert r.status_code == 200, r.text
    outcome = {x["document_id"]: x["status"] for x in r.json()["results"]}
    assert outcome.pop("plain") == "stored"
    assert all(status != "stored" for status in outcome.values()), outcome
    hits = _call(gateway, key, "POST", "/v1/collections/evasions/search", {"query": "customer record", "k": 50})
    assert [h["document_id"] for h in hits.json()["results"]] == ["plain"]
