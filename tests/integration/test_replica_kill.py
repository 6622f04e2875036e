"""A replica killed mid-write (SIGKILL) loses no acknowledged write and no acknowledged audit entry.

Two gateways share one PostgreSQL database (``killable_replicas``, a pair of this module's own). Client threads
ingest documents and request embeddings through replica one; once some of each are acknowledged, replica one
gets SIGKILL while they are still sending. An acknowledgement means: an ingest answered 200 with record ids,
and any response carrying ``X-Gateway-Audit-Index`` (with its ``X-Request-Id``). Afterwards every acknowledged
document is readable through replica two with exactly the acknowledged record ids, every acknowledged index
holds the entry of that very request, and the exported log verifies as one log under its signed checkpoint.
"""

from __future__ import annotations

import json
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.integration.server import BIN, GatewayProcess, kill_mid_load
from tests.integration.test_replicas import call
from tests.unit.backends.postgres.pgkit import TempSchema

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
MODEL = "all-MiniLM-L6-v2"
COLLECTION = "killed"
MIN_INGESTS, MIN_EMBEDS = 6, 6
LOAD_TIMEOUT_S = 40.0


@dataclass
class Acked:
    """What replica one acknowledged before it died."""

    documents: dict[str, list[str]] = field(default_factory=dict)  # document id -> record ids
    receipts: list[tuple[int, str]] = field(default_factory=list)  # (audit index, request id)
    embeds: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def enough(self) -> bool:
        with self.lock:
            return len(self.documents) >= MIN_INGESTS and self.embeds >= MIN_EMBEDS

    def receipt(self, r: httpx.Response) -> None:
        if "X-Gateway-Audit-Index" in r.headers:
            self.receipts.append((int(r.headers["X-Gateway-Audit-Index"]), r.headers["X-Request-Id"]))


def ingester(url: str, key: str, acked: Acked, n: int) -> None:
    with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {key}"}) as client:
        i = 0
        while not acked.stop.is_set():
            doc = f"w{n}-d{i}"
            body = {"documents": [{"id": doc, "text": f"Worker {n} filed claim {i} about a flooded warehouse."}]}
            try:
                r = client.post(f"{url}/v1/collections/{COLLECTION}/documents", json=body)
            except httpx.HTTPError:
                return  # the replica is gone: nothing more can be acknowledged through it
            with acked.lock:
                acked.receipt(r)
                if r.status_code == 200:
                    result = r.json()["results"][0]
                    if result["status"] == "stored" and result["record_ids"]:
                        acked.documents[doc] = list(result["record_ids"])
            i += 1


def embedder(url: str, key: str, acked: Acked, n: int) -> None:
    with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {key}"}) as client:
        i = 0
        while not acked.stop.is_set():
            try:
                r = client.post(f"{url}/v1/embeddings", json={"model": MODEL, "input": f"embed {n}/{i} renewals"})
            except httpx.HTTPError:
                return
            with acked.lock:
                acked.receipt(r)
                acked.embeds += r.status_code == 200
            i += 1


def audit_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "gateway-audit"), *args], capture_output=True, text=True, timeout=60, check=False)


def test_when_a_replica_is_killed_mid_write_then_no_acknowledged_write_or_audit_entry_is_lost(
    killable_replicas: tuple[GatewayProcess, GatewayProcess, TempSchema], tmp_path: Path
) -> None:
    one, two, schema = killable_replicas
    key = one.make_key("acme", "ingest-bot", "writer")
    r = call(one, key, "POST", "/v1/collections", {"name": COLLECTION, "model": MODEL})
    assert r.status_code == 201, r.text

    acked = Acked()
    threads = [threading.Thread(target=ingester, args=(one.url, key, acked, n), daemon=True) for n in range(2)]
    threads += [threading.Thread(target=embedder, args=(one.url, key, acked, n), daemon=True) for n in range(2)]
    kill_mid_load(one, threads, acked.enough, acked.stop, LOAD_TIMEOUT_S)
    assert len(acked.documents) >= MIN_INGESTS and acked.embeds >= MIN_EMBEDS, "too little was acknowledged"

    for doc, record_ids in acked.documents.items():  # every acknowledged write, through the survivor
        r = call(two, key, "GET", f"/v1/collections/{COLLECTION}/documents/{doc}")
        assert r.status_code == 200, (doc, r.text)
        assert [c["record_id"] for c in r.json()["chunks"]] == record_ids, doc
    survivor = call(two, key, "POST", "/v1/embeddings", {"model": MODEL, "input": "after the kill"})
    assert survivor.status_code == 200
    assert int(survivor.headers["X-Gateway-Audit-Index"]) > max(index for index, _ in acked.receipts)

    two.stop()  # SIGTERM: its final checkpoint covers everything both replicas appended
    log, checkpoint = tmp_path / "log.jsonl", tmp_path / "checkpoint.txt"
    exported = audit_cli("export", "--database-url", schema.url, "--out", str(log), "--checkpoint-out", str(checkpoint))
    assert exported.returncode == 0, exported.stderr
    lines = log.read_bytes().split(b"\n")[:-1]
    missing = [(i, rid) for i, rid in acked.receipts
               if i >= len(lines) or json.loads(lines[i]).get("request_id") != rid]
    assert not missing, f"{len(missing)} of {len(acked.receipts)} acknowledged entries are missing: {missing[:3]}"
    verified = audit_cli("verify", "--log", str(log), "--checkpoint", str(checkpoint),
                         "--public-key", str(Path(two.env["GATEWAY_KEYS_DIR"]) / "audit_ed25519.pub"))
    assert verified.returncode == 0, verified.stdout + verified.stderr
