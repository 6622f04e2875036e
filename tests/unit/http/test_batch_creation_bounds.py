"""A batch's creation is bounded in count and in memory (fixes18a #4).

Before: ``POST /v1/batches`` read the whole input file into memory (its chunks and their join, then every line as
text, then every line decoded) and any number of creations ran at once, so N parallel creations over 100 MiB files
held N times several hundred MB. Now creations in progress are capped per process and per tenant
(``batch_max_concurrent_creations``, ``batch_max_tenant_creations``: 429 with ``Retry-After`` at once, audited as
``rate.limited``), and validation reads the file a chunk at a time and keeps only the ids. Measured here with
tracemalloc on a 9 MB input of 20,000 lines: the creation's peak was 4.2x the file before, 1.8x now (the sealed
file the store hands back, once, and the ids)."""

from __future__ import annotations

import json
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from gateway.http.app import create_app
from gateway.jobs.files import FileVault
from tests.unit.http.conftest import App, entry, fake_services

CREATE = {"endpoint": "/v1/embeddings", "completion_window": "24h"}


def _line(n: int, text: str = "x") -> str:
    return json.dumps({"custom_id": f"c{n}", "method": "POST", "url": "/v1/embeddings", "body": {"input": text}})


def _upload(app: App, headers: dict[str, str], content: bytes) -> str:
    up = app.client.post("/v1/files", files={"file": ("in.jsonl", content)}, data={"purpose": "batch"},
                         headers=headers)
    assert up.status_code == 200, up.text
    return str(up.json()["id"])


def _hold_file_reads(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """Make a creation's read of its input file wait, in its worker thread, until the returned ``release`` is set;
    ``entered`` is set once a read has begun."""
    release, entered = threading.Event(), threading.Event()
    chunks = FileVault.chunks

    def held(self: FileVault, tenant: str, fid: str) -> Iterator[bytes]:
        entered.set()
        assert release.wait(20)
        return chunks(self, tenant, fid)

    monkeypatch.setattr(FileVault, "chunks", held)
    return release, entered


@pytest.fixture
def started(tmp_path: Path) -> Iterator[App]:
    services = fake_services(tmp_path, batch_max_concurrent_creations=2, batch_max_tenant_creations=1)
    with TestClient(create_app(services)) as client:
        yield App(client, services, tmp_path)


def test_when_a_tenant_creates_a_second_batch_while_one_is_validating_then_429_audited(
    started: App, monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = started
    alice, bob = app.auth(app.key("acme", "alice", "writer")), app.auth(app.key("acme", "bob", "writer"))
    file_id = _upload(app, alice, (_line(1) + "\n").encode())
    release, entered = _hold_file_reads(monkeypatch)
    first: list[Any] = []
    worker = threading.Thread(target=lambda: first.append(
        app.client.post("/v1/batches", json={"input_file_id": file_id, **CREATE}, headers=alice)))
    worker.start()
    try:
        assert entered.wait(20)
        refused = app.client.post("/v1/batches", json={"input_file_id": file_id, **CREATE}, headers=bob)
    finally:
        release.set()
        worker.join(30)
    assert refused.status_code == 429, refused.text
    assert refused.headers["Retry-After"] == "5"
    assert "batch_max_tenant_creations is 1" in refused.json()["error"]["message"]
    audited = entry(app, refused)
    assert (audited["event"], audited["decision"]) == ("rate.limited", "deny")
    assert first[0].status_code == 200, first[0].text
    other = app.auth(app.key("globex", "gina", "writer"))  # another tenant was never held back
    assert app.client.post("/v1/batches", json={"input_file_id": _upload(app, other, (_line(1) + "\n").encode()),
                                                **CREATE}, headers=other).status_code == 200
    assert app.services.batches.creations.held() == 0  # every slot given back


def test_when_a_creation_times_out_then_its_slot_is_held_until_its_validation_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The request stops waiting at request_timeout_s, but its worker thread still holds the input file: freeing
    # the slot then let timed-out creations pile up past the cap.
    services = fake_services(tmp_path, request_timeout_s=0.5)
    with TestClient(create_app(services)) as client:
        app = App(client, services, tmp_path)
        alice, bob = app.auth(app.key("acme", "alice", "writer")), app.auth(app.key("acme", "bob", "writer"))
        file_id = _upload(app, alice, (_line(1) + "\n").encode())
        chunks = FileVault.chunks
        release, entered = _hold_file_reads(monkeypatch)
        try:
            timed_out = client.post("/v1/batches", json={"input_file_id": file_id, **CREATE}, headers=alice)
            assert timed_out.status_code == 504, timed_out.text
            assert entered.is_set()
            refused = client.post("/v1/batches", json={"input_file_id": file_id, **CREATE}, headers=bob)
            assert refused.status_code == 429, refused.text
        finally:
            release.set()
        monkeypatch.setattr(FileVault, "chunks", chunks)
        deadline = time.monotonic() + 20
        while services.batches.creations.held() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.post("/v1/batches", json={"input_file_id": file_id, **CREATE}, headers=bob).status_code == 200


def test_when_an_upload_times_out_in_its_thread_then_its_slot_stays_counted_until_the_thread_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The same for uploads: the route gave the slot back when the request timed out while the thread parsing the
    # form still held the body and its copy, so uploads past files_max_tenant_uploads piled up in memory.
    services = fake_services(tmp_path, request_timeout_s=0.5)
    with TestClient(create_app(services)) as client:
        app = App(client, services, tmp_path)
        alice, bob = app.auth(app.key("acme", "alice", "writer")), app.auth(app.key("acme", "bob", "writer"))
        release, entered = threading.Event(), threading.Event()
        read_form = FileVault.read_form

        def held(content_type: str, body: bytes | bytearray, max_name: int) -> tuple[str, bytes]:
            entered.set()
            assert release.wait(20)
            return read_form(content_type, body, max_name)

        monkeypatch.setattr(FileVault, "read_form", staticmethod(held))
        content = (_line(1) + "\n").encode()
        try:
            timed_out = client.post("/v1/files", files={"file": ("in.jsonl", content)}, data={"purpose": "batch"},
                                    headers=alice)
            assert timed_out.status_code == 504 and entered.is_set(), timed_out.text
            refused = client.post("/v1/files", files={"file": ("in.jsonl", content)}, data={"purpose": "batch"},
                                  headers=bob)
            assert refused.status_code == 429 and "files_max_tenant_uploads" in refused.text, refused.text
        finally:
            release.set()
        monkeypatch.setattr(FileVault, "read_form", staticmethod(read_form))
        deadline = time.monotonic() + 20
        while services.files.slots.held() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert services.files.slots.held() == 0
        _upload(app, bob, content)


def test_when_the_process_cap_is_reached_then_any_tenant_is_refused(started: App) -> None:
    app = started
    writer = app.auth(app.key("acme", "alice", "writer"))
    file_id = _upload(app, writer, (_line(1) + "\n").encode())
    creations = app.services.batches.creations
    creations.take("globex")
    creations.take("initech")
    try:
        refused = app.client.post("/v1/batches", json={"input_file_id": file_id, **CREATE}, headers=writer)
    finally:
        creations.give("globex")
        creations.give("initech")
    assert refused.status_code == 429 and "batch_max_concurrent_creations is 2" in refused.text
    assert app.client.post("/v1/batches", json={"input_file_id": file_id, **CREATE}, headers=writer).status_code == 200


def test_when_a_large_input_is_validated_then_the_creation_holds_it_about_once(app: App) -> None:
    writer = app.auth(app.key("acme", "alice", "writer"))
    content = "\n".join(_line(n, "a fine text " * 30) for n in range(20_000)).encode() + b"\n"
    file_id = _upload(app, writer, content)
    tracemalloc.start()
    try:
        created = app.client.post("/v1/batches", json={"input_file_id": file_id, **CREATE}, headers=writer)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert created.status_code == 200 and created.json()["request_counts"]["total"] == 20_000, created.text
    assert peak < 2.2 * len(content), peak / len(content)
