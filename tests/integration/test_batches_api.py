"""OpenAI's Batch API against the real gateway process, driven by the official ``openai`` client, unchanged.

One module-scoped gateway (real model, real Presidio, real SQLite) runs a batch of ``BATCH_LINES`` lines
(``GATEWAY_TEST_BATCH_LINES``, default 500; 2,000 took 68 s on 2 cores, docs/batch.md) and is killed with
SIGKILL once part of it is durable; after the restart every custom_id is answered exactly once, the SSN line is a
422 line of the error file, another tenant gets 404 for the batch and its files, and no input text lies in
clear in the data dir.
"""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.integration.server import PII_IN_PROCESS, GatewayProcess, serving

pytestmark = pytest.mark.slow
MODEL = "all-MiniLM-L6-v2"
BATCH_LINES = int(os.environ.get("GATEWAY_TEST_BATCH_LINES", "500"))
SSN_LINE = 7
MARKER = "zyxquorble"  # a word in every input line, never produced by anything but the input


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    env = {**PII_IN_PROCESS, "GATEWAY_JOBS_LEASE_S": "3", "GATEWAY_JOBS_POLL_S": "0.2",
           "GATEWAY_RETENTION_SWEEP_INTERVAL_S": "0"}
    with serving(Path(tmp_path_factory.mktemp("batches")), env=env) as proc:
        yield proc


def client(gw: GatewayProcess, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0, timeout=60)


def input_file(lines: int) -> bytes:
    rows = []
    for n in range(lines):
        text = f"My SSN is 078-05-1120, {MARKER} {n}" if n == SSN_LINE else f"{MARKER} note {n} about policy renewals"
        rows.append(json.dumps({"custom_id": f"req-{n}", "method": "POST", "url": "/v1/embeddings",
                                "body": {"model": MODEL, "input": text}}))
    return ("\n".join(rows) + "\n").encode()


def audit_entries(gw: GatewayProcess, key: str) -> list[dict[str, Any]]:
    """Every entry of the key's tenant, read through the audit API."""
    out: list[dict[str, Any]] = []
    start = 0
    while True:
        page = httpx.get(gw.url + "/v1/audit/entries", headers={"Authorization": f"Bearer {key}"},
                         params={"start": start}, timeout=60).json()
        out += [json.loads(base64.b64decode(e)) for e in page["entries"] if e is not None]
        if page["end"] >= page["tree_size"]:
            return out
        start = page["end"]


def wait_for(cl: openai.OpenAI, batch_id: str, until: set[str], timeout_s: float = 600) -> openai.types.Batch:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        batch = cl.batches.retrieve(batch_id)
        if batch.status in until:
            return batch
        time.sleep(0.3)
    raise AssertionError(f"batch {batch_id} did not reach {until}")


def test_when_a_batch_runs_through_a_kill_9_then_every_line_is_answered_once(gateway: GatewayProcess) -> None:
    key, other = gateway.make_key("acme", "batcher", "writer"), gateway.make_key("globex", "intruder", "admin")
    cl = client(gateway, key)
    uploaded = cl.files.create(file=("lines.jsonl", io.BytesIO(input_file(BATCH_LINES))), purpose="batch")
    started = time.monotonic()
    batch = cl.batches.create(input_file_id=uploaded.id, endpoint="/v1/embeddings", completion_window="24h",
                              metadata={"run": "kill9"})
    assert batch.status in {"validating", "in_progress"} and batch.request_counts is not None
    while cl.batches.retrieve(batch.id).request_counts.completed < BATCH_LINES // 3:  # type: ignore[union-attr]
        time.sleep(0.1)
    assert gateway.proc is not None
    gateway.proc.send_signal(signal.SIGKILL)
    gateway.proc.wait(10)
    gateway.proc = None
    gateway.start()
    done = wait_for(cl, batch.id, {"completed", "failed", "cancelled"})
    elapsed = time.monotonic() - started
    assert done.status == "completed", done
    assert done.request_counts is not None and done.metadata == {"run": "kill9"}
    assert (done.request_counts.total, done.request_counts.completed, done.request_counts.failed) == (
        BATCH_LINES, BATCH_LINES - 1, 1)
    assert done.output_file_id and done.error_file_id
    out = [json.loads(x) for x in cl.files.content(done.output_file_id).text.splitlines()]
    err = [json.loads(x) for x in cl.files.content(done.error_file_id).text.splitlines()]
    answered = [x["custom_id"] for x in out + err]
    assert sorted(answered) == sorted(f"req-{n}" for n in range(BATCH_LINES))  # each exactly once
    assert all(x["response"]["status_code"] == 200 and x["error"] is None for x in out)
    assert len(out[0]["response"]["body"]["data"][0]["embedding"]) == 384
    [blocked] = err
    assert blocked["custom_id"] == f"req-{SSN_LINE}" and blocked["response"]["status_code"] == 422
    assert blocked["response"]["body"]["error"]["code"] == "pii_blocked"
    assert "078-05-1120" not in json.dumps(blocked)
    print(f"\n{BATCH_LINES} lines through a kill -9 in {elapsed:.1f} s")  # the figure for docs/batch.md

    intruder = client(gateway, other)
    for call in (lambda: intruder.batches.retrieve(batch.id), lambda: intruder.batches.cancel(batch.id),
                 lambda: intruder.files.retrieve(uploaded.id), lambda: intruder.files.content(done.output_file_id),
                 lambda: intruder.files.delete(uploaded.id)):
        with pytest.raises(openai.NotFoundError):
            call()
    assert intruder.batches.list().data == [] and intruder.files.list().data == []

    audit = audit_entries(gateway, gateway.make_key("acme", "auditor", "auditor"))
    lines = [e for e in audit if e["event"] == "batch.lines" and e["batch_id"] == batch.id]
    audited = {d["custom_id_digest"] for e in lines for d in e["lines"]}
    assert len(audited) == BATCH_LINES  # every line audited, with the batch it belongs to
    assert [d["code"] for e in lines for d in e["lines"] if d["status"] != 200] == ["pii_blocked"]
    assert all("input_digest" in d for e in lines for d in e["lines"])
    job_events = [e["event"] for e in audit if e.get("job_id") == batch.id]
    assert job_events[0] == "job.created" and "job.resumed" in job_events and job_events[-1] == "job.completed"

    for path in gateway.data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert MARKER.encode() not in data and b"078-05-1120" not in data, path


def test_when_the_input_file_is_invalid_then_the_batch_fails_with_errors_before_any_line(
    gateway: GatewayProcess,
) -> None:
    cl = client(gateway, gateway.make_key("acme", "validator", "writer"))
    good = json.dumps({"custom_id": "a", "method": "POST", "url": "/v1/embeddings",
                       "body": {"model": MODEL, "input": "x"}})
    bad = "\n".join([good, good, "{not json", json.dumps({"custom_id": "c", "method": "POST", "url": "/v1/chat",
                                                           "body": {}})]).encode()
    uploaded = cl.files.create(file=("bad.jsonl", io.BytesIO(bad)), purpose="batch")
    batch = cl.batches.create(input_file_id=uploaded.id, endpoint="/v1/embeddings", completion_window="24h")
    assert batch.status == "failed" and batch.errors is not None and batch.errors.data is not None
    codes = [(e.code, e.line) for e in batch.errors.data]
    assert codes == [("duplicate_custom_id", 2), ("invalid_json_line", 3), ("invalid_url", 4)]
    assert batch.request_counts is not None and batch.request_counts.total == 0
    with pytest.raises(openai.BadRequestError):
        cl.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    with pytest.raises(openai.NotFoundError):
        cl.batches.create(input_file_id="file-nope", endpoint="/v1/embeddings", completion_window="24h")


def test_when_a_file_is_deleted_or_too_big_then_it_is_gone_or_refused(gateway: GatewayProcess) -> None:
    key = gateway.make_key("acme", "uploader", "writer")
    cl = client(gateway, key)
    f = cl.files.create(file=("x.jsonl", io.BytesIO(b'{"a": 1}\n')), purpose="batch")
    assert cl.files.retrieve(f.id).filename == "x.jsonl" and cl.files.content(f.id).content == b'{"a": 1}\n'
    assert cl.files.delete(f.id).deleted
    with pytest.raises(openai.NotFoundError):
        cl.files.retrieve(f.id)
    r = httpx.post(gateway.url + "/v1/files", headers={"Authorization": f"Bearer {key}"},
                   files={"file": ("x.jsonl", b"{}")}, data={"purpose": "fine-tune"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "purpose"


def test_when_a_batch_runs_then_its_lines_count_in_its_creators_usage(gateway: GatewayProcess) -> None:
    """A batch is no way around the quotas: its lines' tokens and requests are its creator's, as requests are."""
    key = gateway.make_key("batch-usage", "svc", "writer")
    cl = client(gateway, key)
    uploaded = cl.files.create(file=("lines.jsonl", io.BytesIO(input_file(SSN_LINE))), purpose="batch")
    batch = cl.batches.create(input_file_id=uploaded.id, endpoint="/v1/embeddings", completion_window="24h")
    done = wait_for(cl, batch.id, {"completed", "failed"}, timeout_s=300)
    assert done.status == "completed" and done.request_counts is not None
    assert done.request_counts.completed == SSN_LINE  # the SSN line is the eighth: not in this file
    page = httpx.get(gateway.url + "/v1/usage", timeout=60,
                     headers={"Authorization": f"Bearer {gateway.make_key('batch-usage', 'aud', 'auditor')}"})
    assert page.status_code == 200, page.text
    results = [r for bucket in page.json()["data"] for r in bucket["results"]]
    assert [r["api_key_id"] for r in results] == [key.split("_")[1]]
    assert results[0]["num_model_requests"] == SSN_LINE and results[0]["input_tokens"] >= SSN_LINE * 5


def _line(custom_id: str, text: str = "a note about policy renewals") -> str:
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/embeddings",
                       "body": {"model": MODEL, "input": text}})


def test_when_a_file_name_metadata_or_custom_id_carries_pii_then_it_is_refused_and_never_echoed(
    gateway: GatewayProcess,
) -> None:
    """File names, metadata and custom_ids are shown to every reader of the tenant: screened like document ids."""
    key = gateway.make_key("acme", "namer", "writer")
    cl = client(gateway, key)
    r = httpx.post(gateway.url + "/v1/files", headers={"Authorization": f"Bearer {key}"}, timeout=60,
                   files={"file": ("emp-078-05-1120.jsonl", _line("a").encode())}, data={"purpose": "batch"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "file", r.text
    assert "078-05-1120" not in r.text and "US_SSN" in r.json()["error"]["message"]
    assert all("078-05-1120" not in f.filename for f in cl.files.list())
    clean = cl.files.create(file=("lines.jsonl", io.BytesIO(_line("a").encode())), purpose="batch")
    for metadata in ({"note": "card@4111111111111111"}, {"078-05-1120": "x"}):
        with pytest.raises(openai.BadRequestError) as refused:
            cl.batches.create(input_file_id=clean.id, endpoint="/v1/embeddings", completion_window="24h",
                              metadata=metadata)
        assert refused.value.response.json()["error"]["param"] == "metadata"
        assert "4111111111111111" not in refused.value.response.text and "078-05" not in refused.value.response.text
    lines = "\n".join([_line("fine-1"), _line("emp-078-05-1120"), _line("fine-2"), _line("card@4111111111111111")])
    uploaded = cl.files.create(file=("ids.jsonl", io.BytesIO(lines.encode())), purpose="batch")
    batch = cl.batches.create(input_file_id=uploaded.id, endpoint="/v1/embeddings", completion_window="24h")
    assert batch.status == "failed" and batch.errors is not None and batch.errors.data is not None
    assert [(e.code, e.line, e.param) for e in batch.errors.data] == [("custom_id_pii", 2, "custom_id"),
                                                                      ("custom_id_pii", 4, "custom_id")]
    assert batch.request_counts is not None and batch.request_counts.total == 0
    shown = cl.batches.retrieve(batch.id).model_dump_json()
    assert "078-05-1120" not in shown and "4111111111111111" not in shown and batch.output_file_id is None


def test_when_an_id_is_unknown_or_huge_then_the_error_does_not_echo_it(gateway: GatewayProcess) -> None:
    key = gateway.make_key("acme", "prober", "writer")
    auth = {"Authorization": f"Bearer {key}"}
    for path in ("/v1/batches/078-05-1120", "/v1/files/078-05-1120", "/v1/files/078-05-1120/content",
                 "/v1/jobs/078-05-1120"):
        r = httpx.get(gateway.url + path, headers=auth, timeout=60)
        assert r.status_code == 404 and "078-05-1120" not in r.text, (path, r.text)
    assert httpx.post(gateway.url + "/v1/collections", headers=auth, json={"name": "probe", "model": MODEL},
                      timeout=60).status_code == 201
    r = httpx.delete(gateway.url + "/v1/collections/probe/documents/078-05-1120", headers=auth, timeout=60)
    assert r.status_code == 404 and "078-05-1120" not in r.text, r.text
    r = httpx.post(gateway.url + "/v1/batches", headers=auth, timeout=60,
                   json={"input_file_id": "x" * 100_000, "endpoint": "/v1/embeddings", "completion_window": "24h"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "input_file_id" and len(r.content) < 1000


def test_when_a_lines_body_exceeds_max_body_bytes_then_validation_names_the_line(gateway: GatewayProcess) -> None:
    cl = client(gateway, gateway.make_key("acme", "bulky", "writer"))
    huge = _line("huge", "word " * 1_800_000)  # 9 MB: over the default max_body_bytes of 8 MiB
    uploaded = cl.files.create(file=("big.jsonl", io.BytesIO("\n".join([_line("ok"), huge]).encode())),
                               purpose="batch")
    batch = cl.batches.create(input_file_id=uploaded.id, endpoint="/v1/embeddings", completion_window="24h")
    assert batch.status == "failed" and batch.errors is not None and batch.errors.data is not None
    assert [(e.code, e.line, e.param) for e in batch.errors.data] == [("request_too_large", 2, "body")]


def test_when_another_key_of_the_tenant_asks_an_input_files_content_then_404_and_only_its_uploader_and_admin_read_it(
    gateway: GatewayProcess,
) -> None:
    # inputs19: a reader downloaded a writer's input file, its SSN line included (inputs are stored unscreened)
    writer = client(gateway, gateway.make_key("acme", "input-owner", "writer"))
    reader = client(gateway, gateway.make_key("acme", "input-reader", "reader"))
    uploaded = writer.files.create(file=("ssn.jsonl", io.BytesIO(input_file(SSN_LINE + 1))), purpose="batch")
    assert reader.files.retrieve(uploaded.id).filename == "ssn.jsonl"  # the file object stays the tenant's
    with pytest.raises(openai.NotFoundError) as refused:
        reader.files.content(uploaded.id)
    assert "078-05-1120" not in str(refused.value.body)
    assert b"078-05-1120" in writer.files.content(uploaded.id).content
    admin = client(gateway, gateway.make_key("acme", "input-admin", "admin"))
    assert admin.files.content(uploaded.id).content == input_file(SSN_LINE + 1)
    audit = audit_entries(gateway, gateway.make_key("acme", "input-auditor", "auditor"))
    assert any(e["event"] == "file.read" and e["decision"] == "deny" and e.get("reason") == "not_uploader"
               and e.get("file_id") == uploaded.id for e in audit)
    batch = reader.batches.create(input_file_id=uploaded.id, endpoint="/v1/embeddings", completion_window="24h")
    done = wait_for(reader, batch.id, {"completed", "failed"}, timeout_s=120)  # documented: lines screened as reader
    assert done.status == "completed" and done.error_file_id and done.output_file_id
    assert "078-05-1120" not in reader.files.content(done.error_file_id).text  # the blocked line, as an error
    assert len(reader.files.content(done.output_file_id).text.splitlines()) == SSN_LINE
