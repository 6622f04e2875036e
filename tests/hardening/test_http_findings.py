"""HTTP-level findings of the second attack on issue 17: a blank metadata key was stored, error messages echoed the
caller's ``model`` string, unknown routes and wrong methods left no audit entry, and the console wrote the filter
values an auditor typed into its ``audit.read`` entries verbatim. Each test failed before its fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.hardening.kit import Gateway, build_gateway

MODEL = "all-MiniLM-L6-v2"
PLANTED = "planted-marker-5e1d"


def _auth(gw: Gateway, role: str = "writer", tenant: str = "acme") -> dict[str, str]:
    return {"Authorization": f"Bearer {gw.key(tenant, role)}"}


def _log(gw: Gateway) -> list[dict[str, Any]]:
    log = gw.services.audit_log
    return [json.loads(e) for e in log.entries(0, log.size())]


@pytest.fixture
def gateway(tmp_path: Path) -> Any:
    app, gw = build_gateway(tmp_path)
    with TestClient(app) as client:
        assert client.post("/v1/collections", json={"name": "docs"}, headers=_auth(gw)).status_code == 201
        yield client, gw


@pytest.mark.parametrize("key", ["", " ", "\t", "\u00a0", "\u3000"])
def test_when_a_metadata_key_is_empty_or_blank_then_400_names_the_field_and_nothing_is_stored(
    gateway: Any, key: str
) -> None:
    client, gw = gateway
    docs = [{"id": "d1", "text": "hello", "metadata": {key: "value", "owner": "team"}}]
    r = client.post("/v1/collections/docs/documents", json={"documents": docs}, headers=_auth(gw))
    assert r.status_code == 400 and r.json()["param"] == "documents[0].metadata"
    assert "blank key" in r.json()["detail"]
    assert _log(gw)[int(r.headers["X-Gateway-Audit-Index"])]["event"] == "request.invalid"
    assert client.get("/v1/collections/docs/documents/d1", headers=_auth(gw)).status_code == 404


def test_when_the_model_is_unknown_then_the_message_names_the_served_model_not_the_callers_text(
    gateway: Any,
) -> None:
    client, gw = gateway
    planted = f"<script>{PLANTED}</script>"
    answers = [
        client.post("/v1/embeddings", json={"model": planted, "input": "hi"}, headers=_auth(gw)),
        client.post("/v1/collections", json={"name": "c2", "model": planted}, headers=_auth(gw)),
        client.post("/v1/collections", json={"name": "c3", "model": f"{MODEL}@{PLANTED}"}, headers=_auth(gw)),
        client.get(f"/v1/models/{PLANTED}", headers=_auth(gw)),
    ]
    for r in answers:
        assert r.status_code in (404, 409), r.text
        assert PLANTED not in r.text and "script" not in r.text
        assert MODEL in r.text
    assert "unknown model" in answers[0].json()["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path", "status", "route"),
    [
        ("GET", f"/v1/{PLANTED}", 404, "GET unmatched"),
        ("POST", f"/v1/collections/docs/{PLANTED}/x", 404, "POST unmatched"),
        ("GET", "/v1/embeddings", 405, None),
        ("DELETE", "/v1/models", 405, None),
        (f"X{PLANTED[:8].upper()}", "/v1/embeddings", 405, None),
    ],
)
def test_when_no_route_or_method_matches_then_the_refusal_is_audited_without_the_raw_path(
    gateway: Any, method: str, path: str, status: int, route: str | None
) -> None:
    client, gw = gateway
    before = gw.services.audit_log.size()
    r = client.request(method, path)
    assert r.status_code == status
    gw.services.auditor.flush()
    added = _log(gw)[before:]
    assert [e["event"] for e in added] == ["request.invalid"]
    entry = added[0]
    assert entry["status"] == status and entry["decision"] == "deny"
    assert entry["request_id"] == r.headers["X-Request-Id"]
    assert PLANTED not in json.dumps(entry) and PLANTED[:8].upper() not in json.dumps(entry)
    method_word, _, template = entry["route"].partition(" ")
    assert method_word in {"GET", "POST", "DELETE", "OTHER"} and "/v1/collections/docs" not in template
    assert route is None or entry["route"] == route


def test_when_many_unrouted_requests_arrive_then_they_are_counted_in_one_aggregate_entry(gateway: Any) -> None:
    client, gw = gateway
    burst = gw.services.settings.audit_unauthenticated_burst
    before = gw.services.audit_log.size()
    for i in range(burst + 50):
        assert client.get(f"/v1/{PLANTED}{i}").status_code == 404
    gw.services.auditor.flush()
    added = _log(gw)[before:]
    aggregates = [e for e in added if e["event"] == "auth.failure.aggregate"]
    assert len(added) == burst + 1 and len(aggregates) == 1
    assert aggregates[0]["counts"] == [{"event": "request.invalid", "route": "GET unmatched", "code": "not_found",
                                        "count": 50}]


def test_when_the_console_is_filtered_by_ids_then_the_entry_holds_their_digests_not_the_text(gateway: Any) -> None:
    client, gw = gateway
    key = gw.key("acme", "auditor")
    assert client.post("/console/signin", data={"api_key": key}, follow_redirects=False).status_code == 303
    values = {"subject": f"{PLANTED}-s", "request_id": f"{PLANTED}-r", "key_id": f"{PLANTED}-k", "tenant": "acme"}
    r = client.get("/console/entries", params=values)
    assert r.status_code == 200
    entry = _log(gw)[int(r.headers["X-Gateway-Audit-Index"])]
    assert entry["event"] == "audit.read" and entry["what"] == "console.entries"
    assert entry["filters"] == {f"{k}_digest": gw.services.auditor.digest("acme", v) for k, v in values.items()}
    assert PLANTED not in json.dumps(_log(gw))


@pytest.mark.parametrize(("metadata", "status"), [
    ({f"k{i}": "v" for i in range(65)}, 413),  # 40,000 keys kept the shared PII queue full for 30 s
    ({"k" * 129: "v"}, 400),  # a 1,000,000-character key was stored
    ({"key\u200b": "x"}, 400),  # an invisible character in a key was stored and shown
    ({"note\n": "x"}, 400),
    ({"note": "x" * 4097}, 413),
])
def test_when_metadata_is_oversized_or_has_invisible_keys_then_it_is_refused(
    gateway: Any, metadata: dict[str, str], status: int
) -> None:
    client, gw = gateway
    docs = [{"id": "d1", "text": "hello", "metadata": metadata}]
    r = client.post("/v1/collections/docs/documents", json={"documents": docs}, headers=_auth(gw))
    assert r.status_code == status and r.json()["param"] == "documents[0].metadata"
    assert _log(gw)[int(r.headers["X-Gateway-Audit-Index"])]["event"] == "request.invalid"
    assert client.get("/v1/collections/docs/documents/d1", headers=_auth(gw)).status_code == 404

