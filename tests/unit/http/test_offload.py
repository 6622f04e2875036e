"""Work that grows with the request leaves the event loop; a one-text request's stays on it (no thread hop)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

import gateway.pipeline.analyze as analyze_module
import gateway.pipeline.collections as collections_module
import gateway.pipeline.embed as embed_module
import gateway.pipeline.stages as pipeline_module
from gateway.pipeline.offload import MIN_CHARS, MIN_ROWS, off_loop
from tests.unit.http.conftest import App

MODEL = "all-MiniLM-L6-v2"


def on_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@pytest.mark.parametrize(("big", "expect_loop"), [(False, True), (True, False)])
def test_when_work_is_big_then_it_runs_on_a_worker_thread(big: bool, expect_loop: bool) -> None:
    async def main() -> tuple[bool, int, int]:
        ran_on_loop, ident = await off_loop(big, lambda: (on_loop(), threading.get_ident()))
        return ran_on_loop, ident, threading.get_ident()

    ran_on_loop, worker, loop_thread = asyncio.run(main())
    assert ran_on_loop is expect_loop and (worker == loop_thread) is expect_loop


class Where:
    """Wraps functions of a module and records, per call, whether it ran on the event loop."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: dict[str, list[bool]] = {}
        self._monkeypatch = monkeypatch

    def watch(self, owner: Any, name: str) -> None:
        real: Callable[..., Any] = getattr(owner, name)

        def spy(*args: Any, **kwargs: Any) -> Any:
            self.calls.setdefault(name, []).append(on_loop())
            return real(*args, **kwargs)

        self._monkeypatch.setattr(owner, name, spy)


@pytest.fixture
def where(monkeypatch: pytest.MonkeyPatch) -> Where:
    w = Where(monkeypatch)
    w.watch(pipeline_module, "protect")
    w.watch(pipeline_module, "_decide_all")
    w.watch(embed_module, "response_body")
    return w


def test_when_one_text_is_embedded_then_its_steps_stay_on_the_loop(app: App, where: Where) -> None:
    r = app.client.post("/v1/embeddings", json={"model": MODEL, "input": "hello"},
                        headers=app.auth(app.key("acme", "a", "writer")))
    assert r.status_code == 200
    assert where.calls == {"_decide_all": [True], "protect": [True], "response_body": [True]}


@pytest.mark.parametrize("fmt", ["float", "base64"])
def test_when_many_texts_are_embedded_then_decisions_noise_and_json_leave_the_loop(
    app: App, where: Where, fmt: str,
) -> None:
    texts = [f"text number {i}" for i in range(MIN_ROWS)]
    r = app.client.post("/v1/embeddings", json={"model": MODEL, "input": texts, "encoding_format": fmt},
                        headers=app.auth(app.key("acme", "a", "writer")))
    assert r.status_code == 200 and len(r.json()["data"]) == MIN_ROWS
    assert [d["index"] for d in r.json()["data"]] == list(range(MIN_ROWS))
    assert where.calls == {"_decide_all": [False], "protect": [False], "response_body": [False]}


def test_when_a_large_ingest_runs_then_chunking_and_the_write_leave_the_loop(
    app: App, monkeypatch: pytest.MonkeyPatch,
) -> None:
    where = Where(monkeypatch)
    where.watch(collections_module.CollectionService, "_plan")
    where.watch(collections_module.CollectionService, "store_chunks")
    writer = app.auth(app.key("acme", "a", "writer"))
    assert app.client.post("/v1/collections", json={"name": "kb"}, headers=writer).status_code == 201
    small = [{"id": "s", "text": "a short note"}]
    text = ("premiums are due monthly " * MIN_CHARS)[: MIN_CHARS // 2]
    large = [{"id": f"d{i}", "text": text} for i in range(4)]  # twice MIN_CHARS in all
    for docs in (small, large):
        r = app.client.post("/v1/collections/kb/documents", json={"documents": docs}, headers=writer)
        assert r.status_code == 200 and all(x["status"] == "stored" for x in r.json()["results"])
    assert where.calls == {"_plan": [True, False], "store_chunks": [False, False]}
    for doc in ("s", "d0", "d1", "d2", "d3"):  # written, from the worker thread
        assert app.client.get(f"/v1/collections/kb/documents/{doc}", headers=writer).json()["chunks"]


def test_when_many_texts_are_analyzed_then_their_decisions_leave_the_loop(
    app: App, monkeypatch: pytest.MonkeyPatch,
) -> None:
    where = Where(monkeypatch)
    where.watch(analyze_module, "_explain_all")
    writer = app.auth(app.key("acme", "a", "writer"))
    for body in ({"text": "Bob paid"}, {"texts": [f"Bob paid {i}" for i in range(MIN_ROWS)]}):
        r = app.client.post("/v1/pii/analyze", json=body, headers=writer)
        assert r.status_code == 200, r.text
    assert where.calls == {"_explain_all": [True, False]}
