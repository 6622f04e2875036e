"""The audit log holds no attacker-chosen text, no entry over its size cap, and a flood of unauthenticated
requests costs a bounded number of bytes (issue 17).

Each planted string is looked for in the raw bytes of ``audit.db`` (WAL included) and in every exported entry.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.hardening.kit import Gateway, build_gateway

CAP = 16 * 1024
EMAIL_ID = "victim.person@example.com"
SSN_ID = "536-90-4721"
MARKER_ID = "planted-marker-7f3a9c"  # an id the caller chose, harmless but not to be logged
LONG_PATH = "x" * 60_000


def _auth(gw: Gateway, role: str = "writer", tenant: str = "acme") -> dict[str, str]:
    return {"Authorization": f"Bearer {gw.key(tenant, role)}"}


def _raw_log(gw: Gateway) -> bytes:
    path = gw.services.settings.audit_db_path
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def _entries(gw: Gateway) -> list[bytes]:
    log = gw.services.audit_log
    return list(log.entries(0, log.size()))


def _planted_nowhere(gw: Gateway, *planted: str) -> None:
    raw, exported = _raw_log(gw), b"\n".join(_entries(gw))
    for p in planted:
        for needle in {p.encode(), p[:64].encode()}:
            assert needle not in raw, f"{p[:40]!r} reached audit.db"
            assert needle not in exported, f"{p[:40]!r} reached an exported entry"


@pytest.fixture
def gateway(tmp_path: Path) -> Any:
    app, gw = build_gateway(tmp_path)
    with TestClient(app) as client:
        assert client.post("/v1/collections", json={"name": "docs"}, headers=_auth(gw)).status_code == 201
        yield client, gw


def test_when_an_unauthenticated_request_has_a_60kb_path_then_the_entry_names_the_route_template(
    gateway: Any,
) -> None:
    client, gw = gateway
    r = client.get(f"/v1/collections/{LONG_PATH}")
    assert r.status_code == 401
    entry = json.loads(gw.services.audit_log.entries(int(r.headers["X-Gateway-Audit-Index"]),
                                                     int(r.headers["X-Gateway-Audit-Index"]) + 1)[0])
    assert entry["event"] == "auth.failure" and entry["route"] == "GET /v1/collections/{name}"
    _planted_nowhere(gw, LONG_PATH)


def test_when_document_ids_look_like_an_email_or_an_ssn_then_only_their_digests_are_logged(gateway: Any) -> None:
    client, gw = gateway
    for pii_id in (EMAIL_ID, SSN_ID):  # refused as ids (PII screening); the refusal's entry must not hold them
        r = client.post("/v1/collections/docs/documents", json={"documents": [{"id": pii_id, "text": "hello"}]},
                        headers=_auth(gw))
        assert r.status_code == 400, pii_id
    docs = [{"id": MARKER_ID, "text": "good morning"}]
    assert client.post("/v1/collections/docs/documents", json={"documents": docs},
                       headers=_auth(gw)).status_code == 200
    for doc_id in (EMAIL_ID, SSN_ID, MARKER_ID, "no.such@example.org"):
        client.get(f"/v1/collections/docs/documents/{doc_id}", headers=_auth(gw))
        client.delete(f"/v1/collections/docs/documents/{doc_id}", headers=_auth(gw))
        client.get(f"/v1/collections/docs/documents/{doc_id}")  # unauthenticated
    _planted_nowhere(gw, EMAIL_ID, SSN_ID, MARKER_ID, "no.such@example.org")
    reads = [json.loads(e) for e in _entries(gw) if b'"document.read"' in e]
    assert reads and all(e["route"] == "GET /v1/collections/{name}/documents/{document_id}" for e in reads)
    assert all(len(e["document_digest"]) == 32 for e in reads if e["decision"] == "allow")


def test_when_pii_analyze_names_an_invalid_collection_then_400_and_the_value_is_not_logged(gateway: Any) -> None:
    client, gw = gateway
    for bad in ("c" * 8_000_000, "John Smith lives at 1 Main St", "name\n", SSN_ID + "/x"):
        r = client.post("/v1/pii/analyze", json={"text": "hello", "collection": bad}, headers=_auth(gw))
        assert r.status_code == 400, bad[:40]
        assert r.json()["param"] == "collection"
    _planted_nowhere(gw, "c" * 1000, "John Smith lives", SSN_ID + "/x")
    assert max(len(e) for e in _entries(gw)) <= CAP


def test_when_pii_analyze_names_a_valid_collection_then_the_entry_holds_its_digest(gateway: Any) -> None:
    client, gw = gateway
    r = client.post("/v1/pii/analyze", json={"text": "hello", "collection": SSN_ID}, headers=_auth(gw))
    assert r.status_code == 200
    _planted_nowhere(gw, SSN_ID)
    entry = json.loads(_entries(gw)[int(r.headers["X-Gateway-Audit-Index"])])
    assert len(entry["collection_digest"]) == 32 and "collection" not in entry


def test_when_an_entry_would_exceed_the_cap_then_lists_are_truncated_with_a_count(gateway: Any) -> None:
    client, gw = gateway
    docs = [{"id": f"document-with-a-rather-long-identifier-{i:04d}-" + "z" * 180, "text": "hello"}
            for i in range(256)]
    r = client.post("/v1/collections/docs/documents", json={"documents": docs}, headers=_auth(gw))
    assert r.status_code == 200
    entry_bytes = _entries(gw)[int(r.headers["X-Gateway-Audit-Index"])]
    entry = json.loads(entry_bytes)
    assert len(entry_bytes) <= CAP
    assert entry["decision"] == "allow" and entry["event"] == "document.ingest" and entry["count"] == 256
    kept = len(entry.get("documents", []))
    assert entry["truncated"]["documents"] == 256 and 0 < kept < 256
    assert len(entry["truncated_digest"]) == 64


def test_when_200_unauthenticated_requests_arrive_then_the_log_grows_by_a_few_kilobytes(gateway: Any) -> None:
    client, gw = gateway
    before_size, before_bytes = gw.services.audit_log.size(), len(b"".join(_entries(gw)))
    for i in range(200):
        path = f"/v1/collections/{'y' * 20_000}{i}" if i % 2 else "/v1/collections"
        headers = {"Authorization": f"Bearer gk_{i:016x}_{'A' * 43}"} if i % 3 else {}
        assert client.get(path, headers=headers).status_code == 401
    gw.services.auditor.flush()
    added = gw.services.audit_log.size() - before_size
    grown = len(b"".join(_entries(gw))) - before_bytes
    assert added <= gw.services.settings.audit_unauthenticated_burst + 2
    assert grown < 16 * 1024, grown
    aggregates = [json.loads(e) for e in _entries(gw) if b"auth.failure.aggregate" in e]
    assert aggregates and sum(a["count"] for a in aggregates) + added - len(aggregates) == 200
    routes = {row["route"] for a in aggregates for row in a["counts"]}
    assert routes <= {"GET /v1/collections", "GET /v1/collections/{name}"}


def test_when_a_flood_window_ends_then_its_aggregate_entry_is_written_without_a_flush(tmp_path: Path) -> None:
    app, gw = build_gateway(tmp_path, audit_unauthenticated_burst=2, audit_unauthenticated_window_s=0.3)
    with TestClient(app) as client:
        before = gw.services.audit_log.size()
        answers = [client.get("/v1/collections") for _ in range(10)]
        assert all(r.status_code == 401 for r in answers)
        assert [r.headers.get("X-Gateway-Audit") for r in answers[2:]] == ["aggregated"] * 8
        assert "X-Gateway-Audit-Index" in answers[0].headers and "X-Gateway-Audit-Index" not in answers[2].headers
        deadline = time.monotonic() + 10
        while gw.services.audit_log.size() < before + 3 and time.monotonic() < deadline:
            client.get("/healthz")  # the timer runs on the app's event loop
            time.sleep(0.1)
        added = [json.loads(e) for e in gw.services.audit_log.entries(before, gw.services.audit_log.size())]
    aggregate = [e for e in added if e["event"] == "auth.failure.aggregate"]
    assert len(aggregate) == 1 and aggregate[0]["count"] == 8
    assert aggregate[0]["counts"] == [{"event": "auth.failure", "route": "GET /v1/collections",
                                       "code": "invalid_api_key", "count": 8}]
