"""Ingest jobs through the real gateway (real model, Presidio, SQLite, FAISS): ``Prefer: respond-async`` answers
202 with the job's Location, ``GET /v1/jobs/{id}`` shows its progress and failures, another tenant gets 404, the
CLI follows it with a progress bar, and a job survives ``kill -9`` half-way, each document ingested exactly once."""

from __future__ import annotations

import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from pydoc_data.topics import topics
from typing import Any

import httpx
import pytest

from tests.auditkit import logged_entries
from tests.integration.server import PII_IN_PROCESS, GatewayProcess

MODEL = "all-MiniLM-L6-v2"
SSN_DOC = "Payroll note: the employee's social security number is 078-05-1120, on file since 2019."
# Small groups, a short lease and a quick poll: the kill lands between groups and the restart resumes at once.
JOB_ENV = {**PII_IN_PROCESS, "GATEWAY_JOBS_INFLIGHT_ITEMS": "2", "GATEWAY_JOBS_LEASE_S": "2",
           "GATEWAY_JOBS_POLL_S": "0.2"}


def _texts(count: int, chars: int) -> list[str]:
    pool = [t for t in topics.values() if len(t) >= chars]
    return [pool[i % len(pool)][:chars] + f" (copy {i})" for i in range(count)]


def _call(gw: GatewayProcess, key: str, method: str, path: str, body: Any = None,
          headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.request(method, gw.url + path, json=body, timeout=300,
                         headers={"Authorization": f"Bearer {key}", **(headers or {})})


def _submit(gw: GatewayProcess, key: str, collection: str, docs: list[dict[str, str]]) -> httpx.Response:
    return _call(gw, key, "POST", f"/v1/collections/{collection}/documents", {"documents": docs},
                 {"Prefer": "respond-async"})


def _follow(gw: GatewayProcess, key: str, location: str, timeout_s: float = 300) -> list[dict[str, Any]]:
    """Every state the job showed until it ended."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        r = _call(gw, key, "GET", location)
        assert r.status_code == 200, r.text
        seen.append(r.json())
        if seen[-1]["status"] in ("completed", "failed", "cancelled"):
            return seen
        time.sleep(0.3)
    raise AssertionError(f"the job did not end in {timeout_s} s: {seen[-1]}")


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    proc = GatewayProcess(Path(tmp_path_factory.mktemp("ingestjobs")), env=dict(JOB_ENV))
    proc.prepare()
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def keys(gw: GatewayProcess) -> dict[str, str]:
    made = {"acme": gw.make_key("acme", "loader", "writer"), "globex": gw.make_key("globex", "spy", "admin")}
    r = _call(gw, made["acme"], "POST", "/v1/collections", {"name": "handbook", "model": MODEL})
    assert r.status_code == 201, r.text
    return made


def test_when_an_ingest_prefers_async_then_a_job_runs_with_progress_and_per_document_failures(
    gw: GatewayProcess, keys: dict[str, str],
) -> None:
    docs = [{"id": f"hb/{i}", "text": t} for i, t in enumerate(_texts(5, 2500))]
    docs.insert(2, {"id": "hb/payroll", "text": SSN_DOC})
    r = _submit(gw, keys["acme"], "handbook", docs)
    assert r.status_code == 202, r.text
    assert r.headers["preference-applied"] == "respond-async"
    location = r.headers["location"]
    assert location == f"/v1/jobs/{r.json()['id']}" and r.json()["progress"]["documents_total"] == 6
    states = _follow(gw, keys["acme"], location)
    done = [s["progress"]["documents_done"] for s in states]
    assert done == sorted(done) and done[-1] == 6  # progress only moves forward
    final = states[-1]
    assert final["status"] == "completed", final
    assert final["progress"]["documents_stored"] == 5 and final["progress"]["documents_failed"] == 1
    assert final["failures"] == [{"index": 2, "document_id": "hb/payroll", "code": "pii_blocked",
                                  "detail": "US_SSN"}]
    stored = [_call(gw, keys["acme"], "GET", f"/v1/collections/handbook/documents/hb/{i}").json() for i in range(5)]
    chunks = sum(len(s["chunks"]) for s in stored)
    assert final["progress"]["chunks_done"] == chunks == final["result"]["chunks"] and chunks > 5
    entries = [e for e in logged_entries(gw.data_dir) if e.get("request_id", "").startswith(final["id"] + ":")]
    assert sorted(e["request_id"] for e in entries) == sorted(f"{final['id']}:{i}" for i in range(6))
    assert {e["decision"] for e in entries if e["request_id"].endswith(":2")} == {"block"}


def test_when_another_tenant_asks_for_a_job_then_it_does_not_exist(
    gw: GatewayProcess, keys: dict[str, str],
) -> None:
    r = _submit(gw, keys["acme"], "handbook", [{"id": "solo", "text": _texts(1, 400)[0]}])
    assert r.status_code == 202, r.text
    theirs = _call(gw, keys["globex"], "GET", r.headers["location"])
    unknown = _call(gw, keys["acme"], "GET", "/v1/jobs/ingestjob_00000000000000000000000000000000")
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json()["code"] == "not_found" and "solo" not in theirs.text
    assert _follow(gw, keys["acme"], r.headers["location"])[-1]["status"] == "completed"


def test_when_a_document_id_or_metadata_key_carries_pii_then_async_is_refused_as_sync_is(
    gw: GatewayProcess, keys: dict[str, str],
) -> None:
    """A job shows its document ids to every reader of the tenant: they are screened before the job exists."""
    text = _texts(1, 300)[0]
    for docs, param in (([{"id": "ok", "text": text}, {"id": "emp-078-05-1120", "text": text}], "documents[1].id"),
                        ([{"id": "card@4111111111111111", "text": text}], "documents[0].id"),
                        ([{"id": "ok", "text": text, "metadata": {"078-05-1120": "x"}}], "documents[0].metadata")):
        sync = _call(gw, keys["acme"], "POST", "/v1/collections/handbook/documents", {"documents": docs})
        queued = _submit(gw, keys["acme"], "handbook", docs)
        assert queued.status_code == sync.status_code == 400, queued.text
        assert queued.json() == {**sync.json(), "request_id": queued.json()["request_id"]}
        assert queued.json()["detail"].startswith(param + " carries PII") and "location" not in queued.headers
        assert "078-05-1120" not in queued.text and "4111111111111111" not in queued.text


def test_when_a_job_is_cancelled_then_it_stops_its_stored_documents_stay_and_others_cannot_cancel_it(
    gw: GatewayProcess, keys: dict[str, str],
) -> None:
    docs = [{"id": f"cx/{i}", "text": t} for i, t in enumerate(_texts(12, 3000))]
    reader = gw.make_key("acme", "viewer", "reader")  # before the job: a CLI call's start would let it finish first
    r = _submit(gw, keys["acme"], "handbook", docs)
    assert r.status_code == 202, r.text
    location = r.headers["location"]
    assert _call(gw, keys["globex"], "POST", location + "/cancel").status_code == 404  # another tenant's: none
    assert _call(gw, reader, "POST", location + "/cancel").status_code == 403  # reading is not stopping
    cancelled = _call(gw, keys["acme"], "POST", location + "/cancel")
    assert cancelled.status_code == 200, cancelled.text
    final = _follow(gw, keys["acme"], location)[-1]
    assert final["status"] == "cancelled" and final["progress"]["documents_done"] < 12, final
    stored = final["progress"]["documents_stored"]
    present = [i for i in range(12)
               if _call(gw, keys["acme"], "GET", f"/v1/collections/handbook/documents/cx/{i}").status_code == 200]
    assert len(present) == stored  # what it stored before the cancel stays stored, nothing after
    cancel_entries = [e for e in logged_entries(gw.data_dir) if e["event"] == "job.cancel"]
    assert [(e["decision"], e["tenant"]) for e in cancel_entries][-1] == ("allow", "acme")


def test_when_the_cli_ingests_a_folder_then_it_shows_progress_and_names_the_blocked_file(
    gw: GatewayProcess, keys: dict[str, str], tmp_path: Path,
) -> None:
    folder = tmp_path / "docs"
    (folder / "policies").mkdir(parents=True)
    for i, text in enumerate(_texts(3, 1500)):
        (folder / "policies" / f"p{i}.txt").write_text(text, encoding="utf-8")
    (folder / "payroll.txt").write_text(SSN_DOC, encoding="utf-8")
    key_file = tmp_path / "key"
    key_file.write_text(keys["acme"], encoding="utf-8")
    out = gw.cli("collections", "ingest", "--dir", str(folder), "--collection", "handbook", "--url", gw.url,
                 "--key-file", str(key_file), "--poll-interval", "0.2", check=False)
    assert out.returncode == 1, out.stderr  # one document failed
    assert "4/4 documents" in out.stderr and "failed: payroll.txt: pii_blocked (US_SSN)" in out.stderr
    assert out.stdout.startswith("3 of 4 documents ingested into handbook")
    assert _call(gw, keys["acme"], "GET", "/v1/collections/handbook/documents/policies/p1.txt").status_code == 200


@pytest.mark.slow
def test_when_the_gateway_is_killed_half_way_then_the_job_resumes_and_ingests_each_document_once(
    gw: GatewayProcess,
) -> None:
    """Last in the module: it kills the module's gateway (same settings; a start of its own cost 10-20 s) and
    stops it at the end. Its job, collection and marker are its own, so what earlier tests left does not count."""
    marker = "Quixotic-harbour-ledger"  # in every staged text: it must never lie in clear under the data dir
    docs = [{"id": f"kb/{i}", "text": f"{marker} {i}. {t}"} for i, t in enumerate(_texts(12, 2500))]
    key = gw.make_key("acme", "loader", "writer")
    if gw.proc is None:
        gw.start()
    try:
        assert _call(gw, key, "POST", "/v1/collections", {"name": "kb", "model": MODEL}).status_code == 201
        r = _submit(gw, key, "kb", docs)
        assert r.status_code == 202, r.text
        location, job_id = r.headers["location"], r.json()["id"]
        deadline = time.monotonic() + 300
        while _call(gw, key, "GET", location).json()["progress"]["documents_done"] < 4:
            assert time.monotonic() < deadline, "the job made no progress"
            time.sleep(0.1)
        assert gw.proc is not None
        gw.proc.send_signal(signal.SIGKILL)
        gw.proc.wait(10)
        gw.proc = None
        for path in gw.data_dir.rglob("*"):
            assert not path.is_file() or marker.encode() not in path.read_bytes(), path
        gw.start()
        final = _follow(gw, key, location)[-1]
    finally:
        gw.stop()
    assert final["status"] == "completed" and final["attempts"] == 2, final
    assert final["progress"]["documents_stored"] == 12 and final["failures"] == []
    entries = logged_entries(gw.data_dir)
    unfinished = {e["unfinished_index"] for e in entries if e["event"] == "write.unfinished"}
    committed: dict[str, int] = {}
    with sqlite3.connect(gw.data_dir / "gateway.db") as conn:
        rows = conn.execute("SELECT document_id, COUNT(*), COUNT(DISTINCT chunk_index) FROM store_chunks "
                            "WHERE collection = 'kb' GROUP BY document_id").fetchall()
    for idx, e in enumerate(entries):
        if e.get("request_id", "").startswith(job_id + ":") and idx not in unfinished:
            committed[e["request_id"]] = committed.get(e["request_id"], 0) + 1
    assert committed == {f"{job_id}:{i}": 1 for i in range(12)}  # one committed ingest entry per document
    assert len(rows) == 12 and all(n == distinct for _, n, distinct in rows)  # no chunk twice
    assert sum(n for _, n, _ in rows) == final["progress"]["chunks_done"]
    assert [e["event"] for e in entries if e.get("job_id") == job_id].count("job.resumed") == 1
