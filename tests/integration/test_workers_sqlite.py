"""``gateway serve`` with two worker processes on the embedded default (SQLite + FAISS in one data dir).

Concurrent writes over many connections land on both workers (their own /metrics say so); each worker's FAISS
index follows the other's inserts and deletions through the store's change feed within its poll interval; an
asynchronous job is claimed by one worker and each of its documents is stored and audited once; and the one audit
log both workers appended to exports and verifies offline as one chain under one checkpoint.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from pydoc_data.topics import topics
from typing import Any

import httpx
import pytest

from tests.integration.server import PII_IN_PROCESS, GatewayProcess, export_and_verify, wait_for_workers

pytestmark = [pytest.mark.slow]

MODEL = "all-MiniLM-L6-v2"
FEED_BOUND_S = 0.5 + 1.5  # the change feed's poll interval, and a margin for two cores shared with other work
_COUNTER = re.compile(r"^gateway_requests_total\{(?P<labels>.*)\} (?P<value>\S+)$")  # templates hold braces


def _texts(count: int) -> list[str]:
    pool = sorted(t for t in topics.values() if len(t) >= 600)
    return [pool[i][:500] for i in range(count)]  # different topics, so each one is its own nearest neighbour


def _call(gw: GatewayProcess, key: str, method: str, path: str, body: Any = None,
          headers: dict[str, str] | None = None) -> httpx.Response:
    """One request on a connection of its own, so that the kernel hands it to either worker."""
    return httpx.request(method, gw.url + path, json=body, timeout=300,
                         headers={"Authorization": f"Bearer {key}", "Connection": "close", **(headers or {})})


def _in_parallel(fn: Callable[[int], Any], count: int) -> list[Any]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(fn, range(count)))


def _workers_counters(gw: GatewayProcess, scrapes: int = 24) -> list[dict[str, float]]:
    """Each worker's request counters (by labels), told apart by their values: /metrics is per process."""
    def scrape(_: int) -> frozenset[tuple[str, float]]:
        text = httpx.get(gw.url + "/metrics", headers={"Connection": "close"}, timeout=30).text
        return frozenset((m["labels"], float(m["value"])) for m in map(_COUNTER.match, text.splitlines()) if m)

    return [dict(seen) for seen in set(_in_parallel(scrape, scrapes))]


def _stored(counters: dict[str, float]) -> float:
    """Answered ingests (the route template ends in /documents) among one worker's counters."""
    return sum(v for labels, v in counters.items()
               if re.search(r'route="[^"]*/documents"', labels) and 'status="2' in labels)


def _top(gw: GatewayProcess, key: str, text: str) -> str | None:
    r = _call(gw, key, "POST", "/v1/collections/notes/search", {"query": text, "k": 1})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    return str(results[0]["document_id"]) if results else None


def test_when_two_workers_share_the_embedded_store_then_each_follows_the_others_writes_and_the_log_is_one_chain(
    tmp_path: Path,
) -> None:
    gw = GatewayProcess(tmp_path / "gw", env={**PII_IN_PROCESS, "GATEWAY_WORKERS": "2", "GATEWAY_JOBS_POLL_S": "0.2"})
    gw.prepare()
    writer = gw.make_key("acme", "loader", "writer")
    auditor = gw.make_key("platform", "aud", "platform-auditor")
    try:
        gw.start()
        wait_for_workers(gw, auditor, 2)
        assert _call(gw, writer, "POST", "/v1/collections", {"name": "notes", "model": MODEL}).status_code == 201
        texts = _texts(36)

        def ingest(i: int) -> int:
            docs = [{"id": f"n{i}", "text": texts[i]}]
            return _call(gw, writer, "POST", "/v1/collections/notes/documents", {"documents": docs}).status_code

        assert _in_parallel(ingest, 30) == [200] * 30
        workers = _workers_counters(gw)
        assert len(workers) == 2, workers  # both answered /metrics (each scrape shows one process's counters)
        assert sorted(_stored(w) > 0 for w in workers) == [True, True], workers  # both stored some
        assert sum(_stored(w) for w in workers) == 30

        # Every search, on either worker, finds every document, whichever worker stored it.
        time.sleep(FEED_BOUND_S)
        found = _in_parallel(lambda i: _top(gw, writer, texts[i % 30]), 60)
        assert found == [f"n{i % 30}" for i in range(60)]

        # One more insert, then a deletion: each reaches the other worker within the feed's bound.
        assert ingest(30) == 200
        time.sleep(FEED_BOUND_S)
        assert _in_parallel(lambda _: _top(gw, writer, texts[30]), 16) == ["n30"] * 16
        assert _call(gw, writer, "DELETE", "/v1/collections/notes/documents/n30").status_code == 200
        time.sleep(FEED_BOUND_S)
        assert "n30" not in _in_parallel(lambda _: _top(gw, writer, texts[30]), 16)

        # A job is claimed by one worker: each of its documents is stored and audited exactly once.
        docs = [{"id": f"j{i}", "text": texts[31 + i]} for i in range(5)]
        r = _call(gw, writer, "POST", "/v1/collections/notes/documents", {"documents": docs},
                  {"Prefer": "respond-async"})
        assert r.status_code == 202, r.text
        job = r.json()["id"]
        deadline = time.monotonic() + 240
        while (state := _call(gw, writer, "GET", r.headers["location"]).json())["status"] not in (
                "completed", "failed", "cancelled"):
            assert time.monotonic() < deadline, state
            time.sleep(0.3)
        assert state["status"] == "completed" and state["progress"]["documents_stored"] == 5, state
    finally:
        gw.stop()

    out, _ = export_and_verify(gw.data_dir, gw.keys_dir / "audit_ed25519.pub", tmp_path)
    entries = [json.loads(line) for line in out.read_text().splitlines()]
    events = [e["event"] for e in entries]
    assert events.count("gateway.start") == 2
    assert events.count("model.register") <= 1  # the workers started together; the change is audited once
    job_items = sorted(e["request_id"] for e in entries if str(e.get("request_id", "")).startswith(job + ":"))
    assert job_items == [f"{job}:{i}" for i in range(5)]  # run once: no document of it audited twice
