"""Collections in process (fake model and detector, real SQLite/FAISS store, real envelope, real audit log)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.http.routes.collections import prefers_async
from tests.unit.http.conftest import App, entry


@pytest.fixture
def acme(app: App) -> dict[str, str]:
    keys = {role: app.key("acme", f"{role}-user", role) for role in ("admin", "writer", "reader", "auditor")}
    r = app.client.post("/v1/collections", json={"name": "kb", "model": "all-MiniLM-L6-v2"},
                        headers=app.auth(keys["writer"]))
    assert r.status_code == 201, r.text
    return keys


def ingest(app: App, key: str, docs: list[dict[str, Any]], name: str = "kb") -> Any:
    return app.client.post(f"/v1/collections/{name}/documents", json={"documents": docs}, headers=app.auth(key))


def test_when_documents_are_ingested_then_search_finds_them_with_provenance(app: App, acme: dict[str, str]) -> None:
    r = ingest(app, acme["writer"], [
        {"id": "d1", "text": "premium payments are due monthly", "metadata": {"dept": "billing"}},
        {"id": "d2", "text": "claims are reviewed by adjusters", "metadata": {"dept": "claims"}},
        {"id": "d3", "text": "Bob filed ssn 078-05-1120", "metadata": {}},
    ])
    assert r.status_code == 200, r.text
    results = {x["document_id"]: x for x in r.json()["results"]}
    assert results["d1"]["status"] == "stored" and results["d1"]["chunks"] == 1
    assert results["d3"]["status"] == "blocked" and results["d3"]["blocked_types"] == ["US_SSN"]
    e = entry(app, r)
    assert e["event"] == "document.ingest" and e["decision"] == "block"  # one document was blocked
    s = app.client.post("/v1/collections/kb/search", json={"query": "when are premium payments due", "k": 2},
                        headers=app.auth(acme["reader"]))
    assert s.status_code == 200, s.text
    top = s.json()["results"][0]
    assert top["document_id"] == "d1" and top["metadata"] == {"dept": "billing"}
    assert top["text"] == "premium payments are due monthly"
    assert top["provenance"]["model"]["name"] == "all-MiniLM-L6-v2"
    doc = app.client.get("/v1/collections/kb/documents/d1", headers=app.auth(acme["reader"])).json()
    chunk = doc["chunks"][0]
    assert chunk["audit_index"] == e_index(r) and chunk["provenance"]["policy_version"].startswith("sha256:")
    filtered = app.client.post("/v1/collections/kb/search", json={"query": "payments", "filter": {"dept": "claims"}},
                               headers=app.auth(acme["reader"])).json()["results"]
    assert [h["document_id"] for h in filtered] == ["d2"]


def e_index(response: Any) -> int:
    return int(response.headers["X-Gateway-Audit-Index"])


def test_when_another_tenant_touches_a_collection_then_every_route_is_404(app: App, acme: dict[str, str]) -> None:
    ingest(app, acme["writer"], [{"id": "d1", "text": "secret plans", "metadata": {}}])
    for role in ("admin", "writer", "reader", "auditor"):
        other = app.auth(app.key("globex", f"g-{role}", role))
        calls = [
            app.client.get("/v1/collections/kb", headers=other),
            app.client.delete("/v1/collections/kb", headers=other),
            app.client.post("/v1/collections/kb/documents", json={"documents": [{"id": "x", "text": "y"}]},
                            headers=other),
            app.client.post("/v1/collections/kb/search", json={"query": "plans"}, headers=other),
            app.client.get("/v1/collections/kb/documents/d1", headers=other),
            app.client.delete("/v1/collections/kb/documents/d1", headers=other),
        ]
        assert [c.status_code for c in calls] == [404] * 6, role
    assert app.client.get("/v1/collections", headers=app.auth(app.key("globex", "g", "reader"))).json() == {
        "collections": []}


def test_when_a_reader_writes_then_403(app: App, acme: dict[str, str]) -> None:
    r = ingest(app, acme["reader"], [{"id": "d1", "text": "x", "metadata": {}}])
    assert r.status_code == 403 and entry(app, r)["event"] == "authz.denied"


def test_when_a_document_is_deleted_then_it_is_gone_from_search(app: App, acme: dict[str, str]) -> None:
    ingest(app, acme["writer"], [{"id": "d1", "text": "alpha beta", "metadata": {}},
                                  {"id": "d2", "text": "gamma delta", "metadata": {}}])
    assert app.client.delete("/v1/collections/kb/documents/d1", headers=app.auth(acme["writer"])).status_code == 200
    hits = app.client.post("/v1/collections/kb/search", json={"query": "alpha beta"},
                           headers=app.auth(acme["reader"])).json()["results"]
    assert "d1" not in [h["document_id"] for h in hits]
    assert app.client.get("/v1/collections/kb/documents/d1", headers=app.auth(acme["reader"])).status_code == 404


@pytest.mark.parametrize("doc_id", ["hr/leave-policy", "a/b/c.txt", "mail@acme:2026/q1"])
def test_when_a_document_id_has_slashes_then_its_provenance_can_be_read_and_it_can_be_deleted(
    app: App, acme: dict[str, str], doc_id: str,
) -> None:
    assert ingest(app, acme["writer"], [{"id": doc_id, "text": "alpha beta", "metadata": {}}]).status_code == 200
    for path in (doc_id, doc_id.replace("/", "%2F")):
        got = app.client.get(f"/v1/collections/kb/documents/{path}", headers=app.auth(acme["reader"]))
        assert got.status_code == 200, got.text
        assert got.json()["document_id"] == doc_id and len(got.json()["chunks"]) == 1
    gone = app.client.delete(f"/v1/collections/kb/documents/{doc_id}", headers=app.auth(acme["writer"]))
    assert gone.status_code == 200 and gone.json()["deleted"] == doc_id
    assert app.client.get(f"/v1/collections/kb/documents/{doc_id}", headers=app.auth(acme["reader"])).status_code == 404


def test_when_the_admin_shreds_the_tenant_then_its_data_is_gone(app: App, acme: dict[str, str]) -> None:
    ingest(app, acme["writer"], [{"id": "d1", "text": "alpha beta", "metadata": {}}])
    bad = app.client.post("/v1/admin/tenant/shred", json={"confirm": "wrong"}, headers=app.auth(acme["admin"]))
    assert bad.status_code == 400
    r = app.client.post("/v1/admin/tenant/shred", json={"confirm": "acme"}, headers=app.auth(acme["admin"]))
    assert r.status_code == 200 and entry(app, r)["event"] == "tenant.shred"
    assert app.client.post("/v1/collections/kb/search", json={"query": "alpha"},
                           headers=app.auth(acme["reader"])).status_code == 404


def test_when_the_admin_rotates_then_old_records_stay_readable(app: App, acme: dict[str, str]) -> None:
    ingest(app, acme["writer"], [{"id": "d1", "text": "alpha beta", "metadata": {}}])
    r = app.client.post("/v1/admin/keys/rotate", headers=app.auth(acme["admin"]))
    assert r.status_code == 200 and r.json()["key_version"] == 2
    ingest(app, acme["writer"], [{"id": "d2", "text": "gamma delta", "metadata": {}}])
    docs = {d: app.client.get(f"/v1/collections/kb/documents/{d}", headers=app.auth(acme["reader"])).json()
            for d in ("d1", "d2")}
    assert docs["d1"]["chunks"][0]["key_version"] == 1 and docs["d2"]["chunks"][0]["key_version"] == 2
    assert app.client.post("/v1/admin/keys/rotate", headers=app.auth(acme["writer"])).status_code == 403


@pytest.mark.parametrize(("headers", "wanted"), [
    (["respond-async"], True), (["Respond-Async; foo=bar"], True), (["wait=10, respond-async"], True),
    (["handling=lenient", "respond-async"], True), ([], False), (["return=minimal"], False),
    (["respond-asynchronously"], False), (["wait=respond-async"], False),
])
def test_when_prefer_is_parsed_then_only_the_respond_async_token_counts(headers: list[str], wanted: bool) -> None:
    assert prefers_async(headers) is wanted
