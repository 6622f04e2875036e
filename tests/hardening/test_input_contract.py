"""``pii.reject_input``: a scope that receives only human-readable text refuses what a reader would have to decode
(bidi controls, markup, encodings) before screening, with a 400 that names the kind and the field, never the value,
and an audit entry. It closes what detection cannot without false blocks: a card number under a right-to-left
override (read backwards, any number passes Luhn one time in ten)."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from gateway.errors import PolicyError
from gateway.pii.contract import refused_kinds
from gateway.policy.loader import load_policy
from tests.hardening.kit import REPO, Gateway, build_gateway

MODEL = "all-MiniLM-L6-v2"
CARD = "4539 1488 0343 6467"
REFUSED = {
    "bidi_controls": ["\u202e" + CARD[::-1] + "\u202c", "note \u2067" + CARD[::-1] + "\u2069", "a\u200fb"],
    "markup": ["<b>4539</b> 1488 0343 6467", "<!-- x --> hello", "4539&#32;1488"],
    "encoded": [base64.b64encode(CARD.encode()).decode(), CARD.encode().hex(), "%34%35%33%39", "\\u0034539"],
}
READABLE = ["Order 12345 shipped in 3 boxes", "Price 4 < 5 and 6 > 2", "50% off today", "AT&T and R&D",
            "sha 3f2a9b7c1d4e5f60718293a4b5c6d7e8f9012345", "internationalization matters", "Mañana, ¿sí?",
            "שלום עולם 123", "build 2024-01-15T10:30:00Z"]


def _edited_policy(root: Path, kinds: str) -> None:
    shutil.copytree(REPO / "policy", root / "policy")
    path = root / "policy" / "gateway.yaml"
    text = path.read_text(encoding="utf-8")
    assert "defaults:\n  pii:\n" in text
    path.write_text(text.replace("defaults:\n  pii:\n", f"defaults:\n  pii:\n    reject_input: {kinds}\n", 1),
                    encoding="utf-8")


@pytest.fixture
def contract(tmp_path: Path) -> Iterator[tuple[TestClient[Any], Gateway]]:
    _edited_policy(tmp_path, "[bidi_controls, encoded, markup]")
    app, gw = build_gateway(tmp_path)
    with TestClient(app) as client:
        yield client, gw


@pytest.mark.parametrize("kind", sorted(REFUSED))
def test_when_a_kind_is_listed_then_only_texts_holding_it_are_refused(kind: str) -> None:
    for text in REFUSED[kind]:
        assert refused_kinds(text, [kind]) == [kind], text
        assert refused_kinds(text, [k for k in REFUSED if k != kind]) == [] or kind == "markup", text
    for text in READABLE:
        assert refused_kinds(text, list(REFUSED)) == [], text


def test_when_a_scope_refuses_these_kinds_then_embeddings_answer_400_with_an_audit_entry(
    contract: tuple[TestClient[Any], Gateway],
) -> None:
    client, gw = contract
    headers = {"Authorization": f"Bearer {gw.key('acme', 'writer')}"}
    log = gw.services.audit_log
    for kind, texts in REFUSED.items():
        for text in texts:
            before = log.size()
            r = client.post("/v1/embeddings", json={"model": MODEL, "input": ["fine", text]}, headers=headers)
            assert r.status_code == 400, (text, r.text)
            body = r.json()["error"]
            assert body["param"] == "input[1]" and kind.replace("_", " ") in body["message"]
            assert f": {kind}), which the policy" in body["message"]  # named as the policy file names it
            assert text not in r.text and CARD not in r.text
            entries = [json.loads(e) for e in log.entries(before, log.size())]
            assert entries and all(text not in json.dumps(e) for e in entries)
    ok = client.post("/v1/embeddings", json={"model": MODEL, "input": READABLE}, headers=headers)
    assert ok.status_code == 200, ok.text


def test_when_a_document_or_query_holds_a_refused_kind_then_it_is_refused(
    contract: tuple[TestClient[Any], Gateway],
) -> None:
    client, gw = contract
    headers = {"Authorization": f"Bearer {gw.key('acme', 'admin')}"}
    assert client.post("/v1/collections", json={"name": "docs"}, headers=headers).status_code == 201
    r = client.post("/v1/collections/docs/documents", headers=headers,
                    json={"documents": [{"id": "d1", "text": REFUSED["bidi_controls"][0]}]})
    assert r.status_code == 400 and r.json()["param"] == "documents[0].text", r.text  # problem+json here
    assert "bidi controls" in r.json()["detail"]
    r = client.post("/v1/collections/docs/search", json={"query": REFUSED["encoded"][0]}, headers=headers)
    assert r.status_code == 400 and r.json()["param"] == "query", r.text


def test_when_the_policy_names_an_unknown_kind_then_it_is_rejected_with_its_line(tmp_path: Path) -> None:
    _edited_policy(tmp_path, "[bidi_controls, pictures]")
    with pytest.raises(PolicyError, match=r"gateway.yaml:\d+: pii.reject_input: 'pictures' is not one of"):
        load_policy(tmp_path / "policy" / "gateway.yaml")
    assert load_policy(REPO / "policy" / "gateway.yaml").scope("acme").reject_input == ()
