"""Retention over a real gateway: a sweep with a future --now purges, audits, and leaves nothing findable
(search, document GET, raw database rows), and the running gateway schedules sweeps of its own."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.auditkit import logged_entries
from tests.integration.server import PII_IN_PROCESS, GatewayProcess, serving

pytestmark = pytest.mark.slow
MARKER = "quillwort" + uuid.uuid4().hex[:8]
DOCS = [
    {"id": "settlement", "text": f"The {MARKER} protocol governs nightly batch settlement.", "metadata": {"k": 1}},
    {"id": "garden", "text": "Tomatoes need full sun and regular watering in summer.", "metadata": {"k": 2}},
]
RETENTION = "  acme:\n    collections:\n      notes:\n        retention_days: 1\n"


def _with_retention(policy_dir: Path) -> None:
    path = policy_dir / "gateway.yaml"
    path.write_text(path.read_text() + RETENTION)  # tenants: is the file's last section


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    # A short interval, so that the test sees the gateway's own scheduled sweep.
    env = {**PII_IN_PROCESS, "GATEWAY_RETENTION_SWEEP_INTERVAL_S": "1"}
    with serving(Path(tmp_path_factory.mktemp("retention")), env=env, edit_policy=_with_retention) as proc:
        yield proc


def call(gw: GatewayProcess, key: str, method: str, path: str, body: Any = None) -> httpx.Response:
    return httpx.request(method, gw.url + path, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=300)


def _rows(gw: GatewayProcess, sql: str) -> list[Any]:
    with sqlite3.connect(gw.data_dir / "gateway.db") as conn:
        return conn.execute(sql).fetchall()


def test_when_swept_with_a_future_now_then_expired_records_are_purged_audited_and_unfindable(
    gw: GatewayProcess,
) -> None:
    writer = gw.make_key("acme", "ingest-bot", "writer")
    assert call(gw, writer, "POST", "/v1/collections", {"name": "notes", "model": "all-MiniLM-L6-v2"}).status_code \
        == 201
    assert call(gw, writer, "POST", "/v1/collections", {"name": "kept", "model": "all-MiniLM-L6-v2"}).status_code \
        == 201
    for name in ("notes", "kept"):
        r = call(gw, writer, "POST", f"/v1/collections/{name}/documents", {"documents": DOCS})
        assert r.status_code == 200 and all(x["status"] == "stored" for x in r.json()["results"]), r.text
    query = {"query": f"{MARKER} nightly settlement", "k": 5}
    assert call(gw, writer, "POST", "/v1/collections/notes/search", query).json()["results"]
    deadline = time.monotonic() + 30
    while not (scheduled := [e for e in logged_entries(gw.data_dir) if e["event"] == "retention.purge"]) and \
            time.monotonic() < deadline:
        time.sleep(0.5)
    assert scheduled and scheduled[0]["trigger"] == "schedule"  # the running gateway sweeps on its own
    # the entries name a collection by its digest only, the same in every entry (its name is the caller's choice)
    notes = next(e["collection_digest"] for e in logged_entries(gw.data_dir) if e["event"] == "collection.create")
    assert scheduled[0]["collections"][notes]["chunks"] == 0  # nothing is a day old yet
    record_ids = [r[0] for r in _rows(gw, "SELECT record_id FROM store_chunks WHERE collection = 'notes'")]
    assert record_ids
    line = json.dumps({"custom_id": "a", "method": "POST", "url": "/v1/embeddings",
                       "body": {"model": "all-MiniLM-L6-v2", "input": MARKER}})
    uploaded = httpx.post(gw.url + "/v1/files", headers={"Authorization": f"Bearer {writer}"}, timeout=60,
                          files={"file": ("in.jsonl", line.encode())}, data={"purpose": "batch"})
    assert uploaded.status_code == 200, uploaded.text  # kept files_expiry_days (30): acme sets no retention_days

    refused = gw.cli("retention", "sweep", check=False)
    assert refused.returncode == 2 and "retention_sweep_interval_s" in refused.stderr  # it serves: it sweeps
    gw.stop()
    bad = gw.cli("retention", "sweep", "--now", "2030-01-01T00:00:00", check=False)
    assert bad.returncode == 2 and "time zone" in bad.stderr
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    entries = len(logged_entries(gw.data_dir))
    dry = gw.cli("retention", "sweep", "--now", later, "--dry-run")  # counts what the sweep below purges
    assert "acme/notes: retention 1 days" in dry.stdout and f"{len(record_ids)} chunks would be purged" in dry.stdout
    assert "nothing was deleted or audited" in dry.stdout and len(logged_entries(gw.data_dir)) == entries
    assert _rows(gw, "SELECT count(*) FROM store_chunks WHERE collection = 'notes'") == [(len(record_ids),)]
    swept = gw.cli("retention", "sweep", "--now", later)
    assert "acme/notes: retention 1 days" in swept.stdout and f"{len(record_ids)} chunks" in swept.stdout

    entry = [e for e in logged_entries(gw.data_dir) if e["event"] == "retention.purge"][-1]
    assert (entry["tenant"], entry["trigger"], entry["decision"], entry["count"]) == ("acme", "cli", "allow",
                                                                                      len(record_ids))
    assert entry["collections"] == {notes: {"retention_days": 1, "chunks": len(record_ids), "drift_rows": 0,
                                            "cutoff": entry["collections"][notes]["cutoff"]}}
    assert MARKER not in json.dumps(entry) and "settlement" not in json.dumps(entry)
    assert _rows(gw, "SELECT count(*) FROM store_chunks WHERE collection = 'notes'") == [(0,)]
    assert _rows(gw, "SELECT chunk_count FROM store_collections WHERE name = 'notes'") == [(0,)]
    stored = b"".join(p.read_bytes() for p in gw.data_dir.rglob("*") if p.is_file())
    assert not any(rid.encode() in stored for rid in record_ids)  # not in gateway.db, its WAL, or a snapshot

    assert _rows(gw, "SELECT id FROM files") == [(uploaded.json()["id"],)]  # 2 days old: kept
    much_later = (datetime.now(UTC) + timedelta(days=31)).isoformat()
    assert "1 files and 0 jobs purged" in gw.cli("retention", "sweep", "--now", much_later).stdout
    assert _rows(gw, "SELECT count(*) FROM files") == [(0,)]
    purge = [e for e in logged_entries(gw.data_dir) if e["event"] == "file.purge"][-1]
    assert (purge["trigger"], purge["files"], purge["jobs"]) == ("cli", 1, 0)

    gw.start()
    assert call(gw, writer, "POST", "/v1/collections/notes/search", query).json()["results"] == []
    assert call(gw, writer, "GET", "/v1/collections/notes/documents/settlement").status_code == 404
    kept = call(gw, writer, "POST", "/v1/collections/kept/search", query).json()["results"]
    assert kept and kept[0]["document_id"] == "settlement"  # no retention_days: untouched
