"""A batch's output is several times its input (attack17): 7 lines of 2,048 short texts (150 KB uploaded) made
14,336 vectors, 120 MB as JSON floats, past ``files_max_bytes`` (100 MiB), so the batch embedded every line, was
charged for it, and then failed at its end (``finalize_failed``, no output file). The upload limit no longer applies
to output files; the texts of all lines together are held to ``batch_max_lines`` instead (OpenAI's rule for
embeddings batches), refused before any line runs."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from gateway.http.app import create_app
from gateway.pipeline.batch_lines import parse_input
from tests.unit.http.conftest import App, fake_services

MODEL = "all-MiniLM-L6-v2"


@pytest.fixture
def small(tmp_path: Path) -> Iterator[App]:
    services = fake_services(tmp_path, files_max_bytes=20_000, batch_max_lines=100)
    with TestClient(create_app(services)) as client:
        yield App(client, services, tmp_path)


def request(custom_id: str, texts: list[str]) -> str:
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/embeddings",
                       "body": {"model": MODEL, "input": texts}})


def run_batch(app: App, headers: dict[str, str], content: bytes) -> dict[str, Any]:
    up = app.client.post("/v1/files", files={"file": ("in.jsonl", content)}, data={"purpose": "batch"},
                         headers=headers)
    assert up.status_code == 200, up.text
    created = app.client.post("/v1/batches", json={"input_file_id": up.json()["id"], "endpoint": "/v1/embeddings",
                                                   "completion_window": "24h"}, headers=headers)
    assert created.status_code == 200, created.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        batch: dict[str, Any] = app.client.get(f"/v1/batches/{created.json()['id']}", headers=headers).json()
        if batch["status"] in ("completed", "failed", "cancelled", "expired"):
            return batch
        time.sleep(0.1)
    raise AssertionError(f"the batch did not end: {batch}")


def test_when_a_batch_output_passes_the_upload_limit_then_the_batch_completes_with_its_output(small: App) -> None:
    writer = small.auth(small.key("acme", "alice", "writer"))
    content = "\n".join(request(f"c{n}", [f"text {n} {i}" for i in range(20)]) for n in range(4)).encode()
    assert len(content) < 20_000
    batch = run_batch(small, writer, content)
    assert batch["status"] == "completed", batch
    assert batch["request_counts"] == {"total": 4, "completed": 4, "failed": 0}
    output = small.client.get(f"/v1/files/{batch['output_file_id']}/content", headers=writer).content
    assert len(output) > 20_000
    answered = [json.loads(x) for x in output.splitlines()]
    assert sorted(a["custom_id"] for a in answered) == ["c0", "c1", "c2", "c3"]
    assert all(len(a["response"]["body"]["data"]) == 20 for a in answered)


def test_when_the_lines_hold_more_texts_than_the_batch_limit_then_it_fails_before_any_line_runs(small: App) -> None:
    writer = small.auth(small.key("acme", "alice", "writer"))
    content = "\n".join(request(f"c{n}", [f"text {i}" for i in range(30)]) for n in range(4)).encode()
    batch = run_batch(small, writer, content)
    assert batch["status"] == "failed" and batch["request_counts"]["completed"] == 0
    assert [e["code"] for e in batch["errors"]["data"]] == ["too_many_inputs"]
    assert "120 inputs" in batch["errors"]["data"][0]["message"]


def test_when_inputs_are_counted_then_a_string_is_one_and_a_list_its_length() -> None:
    raw = "\n".join([request("a", ["x", "y"]), json.dumps({"custom_id": "b", "method": "POST",
                                                           "url": "/v1/embeddings", "body": {"input": "z"}})])
    assert parse_input(raw.encode(), 10, max_inputs=3)[1] == []
    assert [e["code"] for e in parse_input(raw.encode(), 10, max_inputs=2)[1]] == ["too_many_inputs"]
