"""SIGKILL the gateway at random points during ingest and tenant key rotation, many rounds; after each restart the
store, the index and the audit log agree, nothing acknowledged is lost and nothing half written is visible.

The gateway runs with the fake model and detector in a forked child (the parent has already paid for the imports),
so a round costs well under a second and a minute buys dozens of kills.
"""

from __future__ import annotations

import base64
import json
import multiprocessing
import os
import random
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from audit.verify import verify_log
from tests.hardening.kit import Gateway, build_gateway
from tests.integration.server import free_port

BUDGET_S = 45.0
MIN_ROUNDS = 10
FIGURES: dict[str, int] = {}


def _serve(root: str, port: int) -> None:
    import uvicorn

    app, _ = build_gateway(Path(root), checkpoint_interval_s=0.05)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error")


def _start(root: Path, port: int) -> Any:
    proc = multiprocessing.get_context("fork").Process(target=_serve, args=(str(root), port), daemon=True)
    proc.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.05)
    raise AssertionError("the gateway did not come back after a kill")


def _workload(url: str, auth: dict[str, str], round_no: int, acked: set[str], stop: threading.Event) -> None:
    """Ingest one document per request, rotating the tenant key now and then, until the gateway dies."""
    with httpx.Client(base_url=url, headers=auth, timeout=5) as client:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                if n % 4 == 0:
                    client.post("/v1/admin/keys/rotate")
                    continue
                doc_id = f"r{round_no}n{n}"
                body = {"documents": [{"id": doc_id, "text": f"round {round_no} document {n} " * 20}]}
                r = client.post("/v1/collections/c/documents", json=body)
            except httpx.HTTPError:
                return  # killed mid-request: not acknowledged
            if r.status_code == 200 and r.json()["results"][0]["status"] == "stored":
                acked.add(doc_id)


def _check_consistent(
    url: str, auth: dict[str, str], acked: set[str], auditor: dict[str, str]
) -> tuple[list[bytes], str]:
    with httpx.Client(base_url=url, timeout=10) as client:
        for doc_id in acked:  # nothing acknowledged is lost
            r = client.get(f"/v1/collections/c/documents/{doc_id}", headers=auth)
            assert r.status_code == 200 and r.json()["chunks"], f"acknowledged document {doc_id} lost"
        hits = client.post("/v1/collections/c/search", json={"query": "document", "k": 100}, headers=auth)
        assert hits.status_code == 200, hits.text
        for hit in hits.json()["results"]:  # the index shows nothing the store does not hold
            r = client.get(f"/v1/collections/c/documents/{hit['document_id']}", headers=auth)
            assert r.status_code == 200, f"index returned {hit['document_id']}, which the store does not hold"
        note = client.get("/v1/audit/checkpoint", headers=auditor).text
        size = int(note.splitlines()[1])
        leaves: list[bytes] = []
        while len(leaves) < size:
            end = min(size, len(leaves) + 1000)
            page = client.get(f"/v1/audit/entries?start={len(leaves)}&end={end}", headers=auditor).json()
            leaves += [base64.b64decode(e) for e in page["entries"]]
        return leaves, note


@pytest.mark.slow
def test_when_the_gateway_is_killed_at_random_points_then_nothing_acknowledged_is_lost(tmp_path: Path) -> None:
    _, setup = build_gateway(tmp_path)
    auth = {"Authorization": f"Bearer {setup.key('acme', 'admin')}"}
    auditor = {"Authorization": f"Bearer {setup.key('platform', 'platform-auditor')}"}
    setup.services.close()
    rng = random.Random(9)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _start(tmp_path, port)
    assert httpx.post(url + "/v1/collections", json={"name": "c"}, headers=auth).status_code == 201
    acked: set[str] = set()
    started, rounds = time.monotonic(), 0
    while time.monotonic() - started < BUDGET_S or rounds < MIN_ROUNDS:
        rounds += 1
        stop = threading.Event()
        worker = threading.Thread(target=_workload, args=(url, auth, rounds, acked, stop))
        worker.start()
        time.sleep(rng.uniform(0.02, 0.6))
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()
        stop.set()
        worker.join()
        proc = _start(tmp_path, port)
        leaves, note = _check_consistent(url, auth, acked, auditor)
        verify_log(leaves, note, _public_key(tmp_path))
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    _check_offline(tmp_path, acked)
    FIGURES.update(rounds=rounds, acknowledged=len(acked))
    print(f"crash safety: {rounds} SIGKILLs survived, {len(acked)} acknowledged documents all intact, "
          f"{FIGURES.get('unfinished', 0)} of {FIGURES.get('ingest_entries', 0)} ingest entries followed by "
          "write.unfinished")
    assert acked


def _public_key(root: Path) -> Any:
    from gateway.crypto.keyfiles import load_keys

    return load_keys(root / "keys").audit_public_key


def _check_offline(root: Path, acked: set[str]) -> None:
    """Every acknowledged chunk still decrypts (key rotations killed half way never strand a record), and every
    ingest entry is true: its chunks are stored citing it, or a ``write.unfinished`` entry says they never were."""
    _, gw = build_gateway(root)
    store = gw.services.collections.store
    try:
        for doc_id in acked:
            for chunk in store.document("acme", "c", doc_id):
                got = store.get("acme", "c", chunk.record_id)
                assert got.record_id == chunk.record_id
        assert gw.services.reconciler is not None
        gw.services.reconciler.sweep()  # what the next start would do after the last kill
        log = gw.services.audit_log
        entries = [json.loads(leaf) for leaf in log.entries(0, log.size())]
        cited = {store.get("acme", "c", record_id).audit_index for record_id in store.record_ids("acme", "c")}
        unfinished = {e["unfinished_index"] for e in entries if e["event"] == "write.unfinished"}
        claims = [i for i, e in enumerate(entries) if e["event"] == "document.ingest" and e.get("count")]
        untrue = [i for i in claims if i not in cited and i not in unfinished]
        assert not untrue, f"ingest entries {untrue} claim writes that are neither stored nor declared unfinished"
        assert not (unfinished & cited)
        FIGURES.update(unfinished=len(unfinished), ingest_entries=len(claims))
    finally:
        gw.services.close()


__all__ = ["Gateway"]
