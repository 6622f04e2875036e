"""Everything a caller stores is screened by the PII policy: metadata values (free text only where the policy
says), metadata keys, document ids and collection names. Before: ``metadata: {"ssn": "219-09-9999"}`` was stored
and returned to every reader by search, with ``"pii": {}``."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import PolicyError
from gateway.policy.loader import parse_policy
from tests.unit.http.conftest import App

FREE_TEXT_POLICY = """
  acme:
    pii:
      metadata_free_text: [notes]
"""


@pytest.fixture
def acme(app: App) -> dict[str, str]:
    path = app.root / "policy" / "gateway.yaml"
    assert "\ntenants:\n" in path.read_text(encoding="utf-8")  # the appended tenant lands under it
    with path.open("a", encoding="utf-8") as fh:
        fh.write(FREE_TEXT_POLICY)
    assert app.services.policy.reload_if_changed()
    keys = {role: app.key("acme", f"{role}-user", role) for role in ("admin", "writer", "reader")}
    assert app.client.post("/v1/collections", json={"name": "kb"}, headers=app.auth(keys["writer"])).status_code == 201
    return keys


def _ingest(app: App, key: str, docs: list[dict[str, Any]]) -> Any:
    return app.client.post("/v1/collections/kb/documents", json={"documents": docs}, headers=app.auth(key))


def test_when_a_metadata_value_holds_an_ssn_then_the_document_is_blocked_and_never_found(
    app: App, acme: dict[str, str]
) -> None:
    r = _ingest(app, acme["writer"], [
        {"id": "d1", "text": "premium payments are due monthly", "metadata": {"ssn": "219-09-9999"}},
        {"id": "d2", "text": "claims are reviewed by adjusters", "metadata": {"owner": "Alice Smith"}},
        {"id": "d3", "text": "the office closes at noon", "metadata": {"dept": "billing"}},
    ])
    assert r.status_code == 200, r.text
    results = {x["document_id"]: x for x in r.json()["results"]}
    assert results["d1"]["status"] == "blocked" and results["d1"]["blocked_types"] == ["US_SSN"]
    # A label with a name in it (PERSON is redacted in text) cannot be half redacted: the document is refused.
    assert results["d2"]["status"] == "blocked" and results["d2"]["blocked_types"] == ["PERSON"]
    assert results["d3"]["status"] == "stored"
    hits = app.client.post("/v1/collections/kb/search", json={"query": "payments claims office", "k": 10},
                           headers=app.auth(acme["reader"])).json()["results"]
    assert [h["document_id"] for h in hits] == ["d3"]
    assert "219-09-9999" not in str(hits) and "Alice" not in str(hits)


def test_when_a_metadata_value_is_a_card_number_sent_as_a_json_number_then_the_document_is_blocked(
    app: App, acme: dict[str, str]
) -> None:
    """Regression (outside attack, session 6): only string values were screened, so ``{"card": 4111111111111111}``
    was stored and returned by search, also as a float and in a free-text field."""
    r = _ingest(app, acme["writer"], [
        {"id": "n1", "text": "premium payments are due monthly", "metadata": {"card": 4111111111111111}},
        {"id": "n2", "text": "claims are reviewed by adjusters", "metadata": {"card": 4.111111111111111e15}},
        {"id": "n3", "text": "the office closes at noon", "metadata": {"notes": 4111111111111111}},
        {"id": "n4", "text": "the lobby opens at nine", "metadata": {"floor": 3, "rate": 0.25, "open": True}},
    ])
    assert r.status_code == 200, r.text
    results = {x["document_id"]: x for x in r.json()["results"]}
    for doc in ("n1", "n2", "n3"):
        assert results[doc]["status"] == "blocked" and results[doc]["blocked_types"] == ["CREDIT_CARD"], doc
    assert results["n4"]["status"] == "stored"
    hits = app.client.post("/v1/collections/kb/search", json={"query": "payments claims office lobby", "k": 10},
                           headers=app.auth(acme["reader"])).json()["results"]
    assert [h["document_id"] for h in hits] == ["n4"] and "4111111111111111" not in str(hits)


def test_when_a_free_text_metadata_field_holds_a_name_then_it_is_stored_redacted(
    app: App, acme: dict[str, str]
) -> None:
    assert app.services.policy.current().scope("acme", "kb").metadata_free_text == ("notes",)
    r = _ingest(app, acme["writer"], [{"id": "d1", "text": "the office closes at noon",
                                        "metadata": {"notes": "ask Alice Smith", "dept": "billing"}}])
    assert r.json()["results"][0]["status"] == "stored", r.text
    hits = app.client.post("/v1/collections/kb/search", json={"query": "office", "k": 1},
                           headers=app.auth(acme["reader"])).json()["results"]
    assert hits[0]["metadata"] == {"notes": "ask <PERSON>", "dept": "billing"}
    assert r.json()["results"][0]["pii"]["PERSON"]["count"] == 1


@pytest.mark.parametrize(("field", "document"), [
    ("documents[0].id", {"id": "219-09-9999", "text": "plain words"}),
    ("documents[0].id", {"id": "alice@example.com", "text": "plain words"}),
    ("documents[0].metadata", {"id": "d1", "text": "plain words", "metadata": {"219-09-9999": "x"}}),
])
def test_when_an_id_or_metadata_key_carries_pii_then_the_ingest_is_a_400_naming_the_field(
    app: App, acme: dict[str, str], field: str, document: dict[str, Any]
) -> None:
    r = _ingest(app, acme["writer"], [document])
    assert r.status_code == 400, r.text
    body = r.json()
    assert field in str(body) and "219-09-9999" not in str(body) and "alice@example.com" not in str(body)


def test_when_a_collection_name_carries_pii_then_creating_it_is_a_400(app: App, acme: dict[str, str]) -> None:
    r = app.client.post("/v1/collections", json={"name": "alice.smith@example.com"}, headers=app.auth(acme["writer"]))
    assert r.status_code == 400 and "EMAIL_ADDRESS" in r.text and "alice.smith" not in r.text


def test_when_metadata_free_text_is_not_a_list_of_strings_then_the_policy_is_refused_with_its_line() -> None:
    data = b"version: 1\ndefaults:\n  pii:\n    entities: {US_SSN: block}\n    metadata_free_text: notes\n"
    with pytest.raises(PolicyError, match=r":5: pii.metadata_free_text must be a list of strings"):
        parse_policy(data)


@pytest.mark.parametrize(("user", "types"), [
    ("alice.smith@example.com", "EMAIL_ADDRESS"),
    ("219-09-9999", "US_SSN"),
    ("ssn 219_09_9999", "US_SSN"),  # an evasion the detection view folds
    ("Alice Smith", "PERSON"),
])
def test_when_the_embeddings_user_field_carries_pii_then_it_is_a_400_naming_user_and_the_types_never_the_value(
    app: App, acme: dict[str, str], user: str, types: str
) -> None:
    r = app.client.post("/v1/embeddings", json={"model": "all-MiniLM-L6-v2", "input": "the office closes at noon",
                                                "user": user}, headers=app.auth(acme["writer"]))
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["param"] == "user" and types in error["message"]
    assert user not in r.text and user.split()[-1] not in r.text
    assert user.encode() not in app.services.audit_log.entries(0, app.services.audit_log.size())[-1]


def test_when_the_embeddings_user_field_is_an_opaque_id_then_it_embeds_and_a_long_one_is_a_400(
    app: App, acme: dict[str, str]
) -> None:
    body = {"model": "all-MiniLM-L6-v2", "input": "the office closes at noon", "user": "user-7f3a9c"}
    assert app.client.post("/v1/embeddings", json=body, headers=app.auth(acme["writer"])).status_code == 200
    r = app.client.post("/v1/embeddings", json=body | {"user": "u" * 257}, headers=app.auth(acme["writer"]))
    assert r.status_code == 400 and r.json()["error"]["param"] == "user" and "u" * 257 not in r.text
