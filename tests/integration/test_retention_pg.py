"""Retention on the PostgreSQL backend, under a serving gateway: a sweep by hand (allowed while replicas serve)
purges the shared rows, and the serving gateway's index follows the change feed at once."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.server import PII_IN_PROCESS, GatewayProcess
from tests.integration.test_retention import DOCS, MARKER, RETENTION, call
from tests.unit.backends.postgres.pgkit import TempSchema

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture(scope="module")
def pg_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayProcess, TempSchema]]:
    schema = TempSchema()
    gw = GatewayProcess(Path(tmp_path_factory.mktemp("retention-pg")),
                        env={**PII_IN_PROCESS, "GATEWAY_DATABASE_URL": schema.url})
    gw.prepare()
    policy = gw.policy_dir / "gateway.yaml"
    policy.write_text(policy.read_text() + RETENTION)
    gw.cli("db", "upgrade")
    gw.start()
    try:
        yield gw, schema
    finally:
        gw.stop()
        schema.drop()


def test_when_swept_by_hand_on_postgres_then_the_serving_gateway_finds_nothing_and_the_rows_are_gone(
    pg_gateway: tuple[GatewayProcess, TempSchema],
) -> None:
    gw, schema = pg_gateway
    writer = gw.make_key("acme", "ingest-bot", "writer")
    assert call(gw, writer, "POST", "/v1/collections", {"name": "notes", "model": "all-MiniLM-L6-v2"}).status_code \
        == 201
    r = call(gw, writer, "POST", "/v1/collections/notes/documents", {"documents": DOCS})
    assert r.status_code == 200 and all(x["status"] == "stored" for x in r.json()["results"]), r.text
    query: dict[str, Any] = {"query": f"{MARKER} nightly settlement", "k": 5}
    assert call(gw, writer, "POST", "/v1/collections/notes/search", query).json()["results"]
    stored = schema.sql("SELECT count(*) FROM store_chunks WHERE tenant = 'acme' AND collection = 'notes'")[0][0]
    assert stored > 0

    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    dry = gw.cli("retention", "sweep", "--now", later, "--dry-run")
    assert "acme/notes: retention 1 days, cutoff" in dry.stdout and f"{stored} chunks would be purged" in dry.stdout
    assert schema.sql("SELECT count(*) FROM store_chunks WHERE tenant = 'acme' AND collection = 'notes'") == [(stored,)]
    swept = gw.cli("retention", "sweep", "--now", later)  # while the gateway serves: PostgreSQL allows it
    assert "acme/notes: retention 1 days" in swept.stdout and f"{stored} chunks" in swept.stdout, swept.stderr
    assert schema.sql("SELECT count(*) FROM store_chunks WHERE tenant = 'acme' AND collection = 'notes'") == [(0,)]
    deadline = time.monotonic() + 5
    while (hits := call(gw, writer, "POST", "/v1/collections/notes/search", query).json()["results"]) and \
            time.monotonic() < deadline:
        time.sleep(0.1)
    assert hits == []  # the serving gateway's index dropped them through the change feed
    assert call(gw, writer, "GET", "/v1/collections/notes/documents/settlement").status_code == 404
    entries = [json.loads(bytes(leaf)) for (leaf,) in schema.sql("SELECT leaf FROM audit_entries ORDER BY idx")]
    purge = [e for e in entries if e["event"] == "retention.purge" and e["trigger"] == "cli"]
    notes = next(e["collection_digest"] for e in entries if e["event"] == "collection.create")
    assert purge and purge[-1]["collections"][notes]["chunks"] == stored  # by digest: the name is the caller's
    assert MARKER not in json.dumps(purge)
    assert httpx.get(gw.url + "/readyz").status_code == 200
