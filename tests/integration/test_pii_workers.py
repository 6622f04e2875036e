"""PII detection in worker processes through HTTP: a real gateway with ``pii_workers = 2`` (real Presidio, spaCy and
model) blocks an SSN, embeds a clean text, and leaves no worker behind when it stops."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.integration.server import GatewayProcess
from tests.procs import pii_workers_of, running

pytestmark = pytest.mark.slow


def test_when_pii_runs_in_two_worker_processes_then_an_ssn_is_blocked_a_clean_text_embeds_and_stop_leaves_none(
    tmp_path: Path,
) -> None:
    gw = GatewayProcess(tmp_path, env={"GATEWAY_PII_WORKERS": "2"})
    gw.prepare()
    key = gw.make_key("acme", "svc", "writer")
    gw.start()
    try:
        assert gw.proc is not None
        workers = pii_workers_of(gw.proc.pid)
        assert len(workers) == 2 and all(running(w) for w in workers)

        def embed(text: str) -> httpx.Response:
            return httpx.post(gw.url + "/v1/embeddings", json={"model": "all-MiniLM-L6-v2", "input": text},
                              headers={"Authorization": f"Bearer {key}"}, timeout=120)

        blocked = embed("My SSN is 078-05-1120, please file it")
        assert blocked.status_code == 422, blocked.text
        assert blocked.json()["error"]["code"] == "pii_blocked" and "078-05-1120" not in blocked.text
        clean = embed("The quarterly report covers revenue in the northern region.")
        assert clean.status_code == 200, clean.text
        assert len(clean.json()["data"][0]["embedding"]) == 384
        long_blocked = embed("Notes from the meeting. " * 250 + "SSN 078-05-1120.")  # the long-text lane
        assert long_blocked.status_code == 422 and long_blocked.json()["error"]["code"] == "pii_blocked"
    finally:
        gw.stop()  # SIGTERM: the app's shutdown closes the pool
    deadline = time.monotonic() + 10
    while any(running(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(running(w) for w in workers)
