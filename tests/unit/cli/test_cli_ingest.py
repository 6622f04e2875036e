"""``gateway collections ingest``: the folder it reads, the requests it sends, the job it follows (a fake gateway
over httpx's MockTransport; the real one is driven in tests/integration/test_ingest_jobs.py)."""

from __future__ import annotations

import io
import json
import logging
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.cli.commands import main
from gateway.cli.common import ProgressBar
from gateway.cli.ingest import Client, IngestError, Source, Tally, groups, read_folder, run


def _folder(root: Path) -> Path:
    (root / "hr").mkdir(parents=True)
    (root / "hr" / "leave.txt").write_text("Annual leave is 25 days.", encoding="utf-8")
    (root / "b.md").write_text("Expenses are filed monthly.", encoding="utf-8")
    (root / "empty.txt").write_text("  \n", encoding="utf-8")
    (root / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (root / "with space.txt").write_text("x", encoding="utf-8")
    (root / "long.txt").write_text("y" * 101, encoding="utf-8")
    (root / "image.png").write_bytes(b"\x89PNG")
    return root


def test_when_a_folder_is_read_then_text_files_become_documents_and_the_rest_are_skipped_with_reasons(
    tmp_path: Path,
) -> None:
    sources, skipped = read_folder(_folder(tmp_path), ["txt", "md"], max_chars=100)
    assert [s.id for s in sources] == ["b.md", "hr/leave.txt"]
    reasons = {s.path: s.reason for s in skipped}
    assert set(reasons) == {"empty.txt", "latin1.txt", "with space.txt", "long.txt"}
    assert "UTF-8" in reasons["latin1.txt"] and "101 characters" in reasons["long.txt"]
    assert "document id" in reasons["with space.txt"]


def test_when_documents_exceed_a_request_then_they_are_split_by_count_and_by_bytes() -> None:
    docs = [Source(f"d{i}", "x" * 100) for i in range(10)]
    assert [len(g) for g in groups(docs, max_documents=4, max_bytes=10_000)] == [4, 4, 2]
    assert [len(g) for g in groups(docs, max_documents=100, max_bytes=350)] == [2, 2, 2, 2, 2]
    assert [len(g) for g in groups(docs[:1], max_documents=1, max_bytes=10)] == [1]  # one too large still goes


class FakeGateway:
    """Accepts each request as a job that finishes over three polls; the second document is blocked."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.polls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer k"
        if request.method == "POST":
            assert request.headers["prefer"] == "respond-async"
            self.posts.append(json.loads(request.content))
            return httpx.Response(202, headers={"Location": "/v1/jobs/job_1", "Preference-Applied": "respond-async"},
                                  json={"id": "job_1", "status": "queued"})
        self.polls += 1
        ids = [d["id"] for d in self.posts[-1]["documents"]]
        done = min(self.polls, len(ids))
        failures = [{"document_id": ids[1], "code": "pii_blocked", "detail": "US_SSN"}] if done >= 2 else []
        return httpx.Response(200, json={
            "id": "job_1", "status": "completed" if done == len(ids) else "running",
            "progress": {"documents_total": len(ids), "documents_done": done, "chunks_done": 2 * done},
            "failures": failures})


def test_when_the_gateway_accepts_a_job_then_the_client_follows_it_with_progress_and_failures() -> None:
    fake, out = FakeGateway(), io.StringIO()
    tally = Tally(3, ProgressBar("ingesting", stream=out), out)
    with httpx.Client(base_url="http://gw", transport=httpx.MockTransport(fake), headers={"Authorization": "Bearer k"}
                      ) as http:
        errors = run(Client(http, 0.0), "docs", [Source(f"d{i}", "text") for i in range(3)], 256, 10**6, tally)
    assert errors == [] and fake.polls == 3 and len(fake.posts) == 1
    assert (tally.documents, tally.chunks) == (3, 6)
    assert [f.document_id for f in tally.failures] == ["d1"]
    shown = out.getvalue()
    assert "1/3 documents, 2 chunks" in shown and "3/3 documents, 6 chunks, 1 failed" in shown
    assert shown.count("failed: d1: pii_blocked (US_SSN)") == 1  # printed once, though polled twice more


def test_when_the_gateway_answers_synchronously_then_its_results_are_the_outcome() -> None:
    def sync(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"collection": "docs", "results": [
            {"document_id": "a", "status": "stored", "chunks": 3},
            {"document_id": "b", "status": "blocked", "chunks": 0, "blocked_types": ["US_SSN"]}]})

    out = io.StringIO()
    tally = Tally(2, ProgressBar("ingesting", stream=out), out)
    with httpx.Client(base_url="http://gw", transport=httpx.MockTransport(sync)) as http:
        assert run(Client(http, 0.0), "docs", [Source("a", "x"), Source("b", "y")], 256, 10**6, tally) == []
    assert (tally.documents, tally.chunks, [f.code for f in tally.failures]) == (2, 3, ["pii_blocked"])


def test_when_the_collection_is_unknown_then_the_refusal_names_its_code_request_id_and_what_to_do() -> None:
    def missing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, headers={"X-Request-Id": "req-7"}, json={
            "type": "urn:gateway:error:not_found", "status": 404, "code": "not_found",
            "detail": "collection 'docs' does not exist"})

    with httpx.Client(base_url="http://gw", transport=httpx.MockTransport(missing)) as http, \
            pytest.raises(IngestError) as caught:
        Client(http, 0.0).submit("docs", [Source("a", "x")])
    message = str(caught.value)
    assert "404 not_found" in message and "does not exist" in message and "req-7" in message
    assert "create it first" in message


def test_when_a_job_fails_as_a_whole_then_run_reports_it() -> None:
    def failing(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(202, headers={"Location": "/v1/jobs/job_9"})
        return httpx.Response(200, json={"id": "job_9", "status": "failed", "progress": {"documents_done": 0},
                                         "error": {"code": "collection_deleted", "message": "gone"}})

    out = io.StringIO()
    with httpx.Client(base_url="http://gw", transport=httpx.MockTransport(failing)) as http:
        errors = run(Client(http, 0.0), "docs", [Source("a", "x")], 256, 10**6,
                     Tally(1, ProgressBar("i", stream=out), out))
    assert errors == ["job /v1/jobs/job_9 ended failed: collection_deleted: gone"]


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("GATEWAY_KEYS_DIR", str(tmp_path / "keys"))
    return tmp_path


def test_when_the_gateway_cannot_be_reached_then_the_command_says_where_it_looked_and_exits_2(
    settings_env: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    key = settings_env / "key"
    key.write_text("gk_test\n", encoding="utf-8")
    docs = _folder(settings_env / "docs")
    code = main(["collections", "ingest", "--dir", str(docs), "--collection", "docs",
                 "--url", f"http://127.0.0.1:{port}", "--key-file", str(key)])
    err = capsys.readouterr().err
    assert code == 2 and f"cannot reach the gateway at http://127.0.0.1:{port}" in err
    assert "skipped: latin1.txt: not UTF-8 text" in err


def test_when_no_key_file_is_given_off_a_terminal_then_the_command_asks_for_one(
    settings_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code = main(["collections", "ingest", "--dir", str(_folder(settings_env / "docs")), "--collection", "docs"])
    assert code == 2 and "pass --key-file" in capsys.readouterr().err


def test_when_the_command_runs_then_httpx_and_faiss_chatter_stays_out_of_its_output(
    settings_env: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
) -> None:
    # Regression: "INFO httpx HTTP Request: GET .../v1/jobs/..." lines were printed among the progress bar's, and
    # every maintenance command began with eleven "faiss.loader ... Could not load library" lines.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    key = settings_env / "key"
    key.write_text("gk_test\n", encoding="utf-8")
    main(["collections", "ingest", "--dir", str(_folder(settings_env / "docs")), "--collection", "docs",
          "--url", f"http://127.0.0.1:{port}", "--key-file", str(key)])
    with caplog.at_level(logging.INFO):
        httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200))).get("http://gw/v1/jobs/j")
        logging.getLogger("faiss.loader").info("Could not load library with AVX2 support due to: ...")
    assert [r.name for r in caplog.records if r.name in ("httpx", "faiss.loader")] == []
