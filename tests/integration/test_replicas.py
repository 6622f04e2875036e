"""Two real gateway processes on one PostgreSQL database, as two replicas behind a load balancer.

They share the key directory (as replicas share the KEK secret) and nothing else on disk. A document ingested
through one is found by search through the other within the replica lag bound; a key created once works on
both; the audit log both wrote exports from the database and verifies as one log under one checkpoint.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.server import GatewayProcess, export_and_verify
from tests.unit.backends.postgres.pgkit import TempSchema

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
LAG_BOUND_S = 1.0  # the listener polls every 0.5 s even without NOTIFY; NOTIFY makes it milliseconds


def call(gw: GatewayProcess, key: str, method: str, path: str, body: Any = None) -> httpx.Response:
    return httpx.request(method, gw.url + path, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=120)


def test_when_ingested_through_one_replica_then_search_through_the_other_finds_it_and_the_log_verifies(
    replicas: tuple[GatewayProcess, GatewayProcess, TempSchema], tmp_path: Path
) -> None:
    one, two, schema = replicas
    key = one.make_key("acme", "ingest-bot", "writer")  # created once, in the shared database
    assert call(two, key, "GET", "/v1/collections").status_code == 200  # works on the other replica at once
    r = call(one, key, "POST", "/v1/collections", {"name": "shared", "model": "all-MiniLM-L6-v2"})
    assert r.status_code == 201, r.text
    seed = [{"id": f"seed-{i}", "text": f"Seed document {i} about quarterly invoices."} for i in range(3)]
    assert call(one, key, "POST", "/v1/collections/shared/documents", {"documents": seed}).status_code == 200
    query = {"query": "nightly settlement of batch payments", "k": 1}
    assert call(two, key, "POST", "/v1/collections/shared/search", query).status_code == 200  # two loads its index

    doc = {"id": "late", "text": "The zebrafinch protocol governs nightly batch settlement of payments."}
    r = call(one, key, "POST", "/v1/collections/shared/documents", {"documents": [doc]})
    assert r.status_code == 200, r.text
    acknowledged = time.monotonic()
    while True:
        hits = call(two, key, "POST", "/v1/collections/shared/search", query).json()["results"]
        if hits and hits[0]["document_id"] == "late":
            break
        assert time.monotonic() - acknowledged < LAG_BOUND_S, "replica two did not see the write in time"
        time.sleep(0.02)

    revoked = one.cli("apikey", "revoke", key.split("_")[1])
    assert revoked.returncode == 0
    assert call(two, key, "GET", "/v1/collections").status_code == 401  # revocation is shared too

    # A rule written straight into the shared table (an insider with SQL, or a DBA's change): each replica's
    # listener loads it, and each replica audits it (before, the listener's reload left its watcher nothing to audit).
    grant = ["g", "okta:risk-analysts-17", "reader", "acme"]
    schema.sql("INSERT INTO casbin_rule (ptype, v0, v1, v2) VALUES (%s, %s, %s, %s)", tuple(grant))
    time.sleep(2.0)  # the listener at once, each watcher within its 0.5 s interval

    for gw in (one, two):
        gw.stop()
    out, exported = export_and_verify(schema.url, Path(one.env["GATEWAY_KEYS_DIR"]) / "audit_ed25519.pub", tmp_path)
    routes = {line.split('"route":"')[1].split('"')[0] for line in out.read_text().splitlines() if '"route":"' in line}
    assert "exported 0" not in exported and len(routes) >= 2
    entries = [json.loads(line) for line in out.read_text().splitlines() if '"policy.reload"' in line]
    granted = [e for e in entries if e.get("what") == "casbin" and e["tenant"] == "acme"]
    assert len(granted) == 2, entries  # one per replica that put it in force
    assert all(e["decision"] == "allow" and {"rule": grant, "change": "added"} in e["changes"] for e in granted)
