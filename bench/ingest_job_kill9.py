"""The issue's ingest job by hand: 64 documents of 30,000 characters through ``Prefer: respond-async``, the gateway
killed with SIGKILL half-way and restarted, the job completing with each document ingested exactly once.

Real gateway (real model, Presidio, SQLite, FAISS), default job settings (``jobs_inflight_items`` 8, ``jobs_lease_s``
30: after the restart the job waits for the dead runner's lease to run out). Prints the progress as it goes, the
timings (before the kill, the restart, the resumed part, the whole), and the checks: one committed
``document.ingest`` entry per document, no chunk stored twice, no staged text in clear under the data directory.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/ingest_job_kill9.py [--docs 64] [--chars 30000] [--kill-at 32]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx  # noqa: E402

from bench._data import corpus_documents  # noqa: E402
from bench.throughput import cpu_model, say  # noqa: E402
from tests.integration.server import GatewayProcess  # noqa: E402

MARKER = "Quixotic-harbour-ledger"


def job(client: httpx.Client, location: str) -> dict[str, Any]:
    r = client.get(location)
    r.raise_for_status()
    return dict(r.json())


def wait(client: httpx.Client, location: str, until: int, timeout_s: float) -> dict[str, Any]:
    """Poll until ``until`` documents are done or the job ends; says each change of progress."""
    deadline, last = time.monotonic() + timeout_s, -1
    while time.monotonic() < deadline:
        state = job(client, location)
        p = state["progress"]
        if p["documents_done"] != last:
            last = p["documents_done"]
            say(f"job {state['status']}: {last}/{p['documents_total']} documents, {p['chunks_done']} chunks, "
                f"{p['documents_failed']} failed")
        if last >= until or state["status"] in ("completed", "failed", "cancelled"):
            return state
        time.sleep(0.5)
    raise TimeoutError(f"no end in {timeout_s} s")


def checks(gw: GatewayProcess, job_id: str, total: int) -> dict[str, Any]:
    with sqlite3.connect(gw.data_dir / "audit.db") as conn:
        entries = [json.loads(r[0]) for r in conn.execute("SELECT leaf FROM entries ORDER BY idx")]
    unfinished = {e["unfinished_index"] for e in entries if e["event"] == "write.unfinished"}
    mine = [(i, e) for i, e in enumerate(entries) if str(e.get("request_id", "")).startswith(job_id + ":")]
    committed: dict[str, int] = {}
    for i, e in mine:
        if i not in unfinished:
            committed[e["request_id"]] = committed.get(e["request_id"], 0) + 1
    with sqlite3.connect(gw.data_dir / "gateway.db") as conn:
        rows = conn.execute("SELECT document_id, COUNT(*), COUNT(DISTINCT chunk_index) FROM store_chunks "
                            "GROUP BY document_id").fetchall()
    clear = [str(p) for p in gw.data_dir.rglob("*") if p.is_file() and MARKER.encode() in p.read_bytes()]
    return {"entries": len(mine), "orphaned_entries": sum(1 for i, _ in mine if i in unfinished),
            "each_document_committed_once": committed == {f"{job_id}:{n}": 1 for n in range(total)},
            "documents_stored": len(rows), "no_chunk_twice": all(n == d for _, n, d in rows),
            "chunks": sum(n for _, n, _ in rows), "files_with_text_in_clear": clear}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=64)
    parser.add_argument("--chars", type=int, default=30_000)
    parser.add_argument("--kill-at", type=int, default=32, help="documents done when the gateway is killed")
    parser.add_argument("--port", type=int, default=0, help="0: a free one")
    args = parser.parse_args()
    texts = corpus_documents(args.docs, args.chars - len(MARKER) - 1, seed=31)
    docs = [{"id": f"corpus/{i:03d}", "text": f"{MARKER} {t}"} for i, t in enumerate(texts)]
    print(f"# ingest_job_kill9.py  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  cpus={os.cpu_count()}  {cpu_model()}")
    with tempfile.TemporaryDirectory(prefix="bench-kill9-") as tmp:
        gw = GatewayProcess(Path(tmp), port=args.port)
        gw.prepare()
        key = gw.make_key("acme", "loader", "writer")
        gw.start()
        try:
            with httpx.Client(base_url=gw.url, timeout=120, headers={"Authorization": f"Bearer {key}"}) as client:
                client.post("/v1/collections", json={"name": "corpus", "model": "all-MiniLM-L6-v2"}).raise_for_status()
                started = time.monotonic()
                r = client.post("/v1/collections/corpus/documents", json={"documents": docs},
                                headers={"Prefer": "respond-async"})
                assert r.status_code == 202, r.text
                location, job_id = r.headers["location"], r.json()["id"]
                say(f"202 in {time.monotonic() - started:.1f} s: {location}")
                before = wait(client, location, args.kill_at, 3600)
                killed_at = time.monotonic()
                assert gw.proc is not None
                gw.proc.send_signal(signal.SIGKILL)
                gw.proc.wait(10)
                gw.proc = None
                say(f"SIGKILL at {before['progress']['documents_done']} documents, "
                    f"{killed_at - started:.0f} s after the 202")
                gw.start()
                restarted = time.monotonic()
                say(f"restarted in {restarted - killed_at:.0f} s")
                final = wait(client, location, args.docs + 1, 3600)
                ended = time.monotonic()
        finally:
            gw.stop()
        result = checks(gw, job_id, args.docs)
    p = final["progress"]
    print(f"{args.docs} documents of {args.chars} characters: status {final['status']}, attempts "
          f"{final['attempts']}, {p['documents_stored']} stored, {p['documents_failed']} failed, "
          f"{p['chunks_done']} chunks")
    print(f"before the kill: {before['progress']['documents_done']} documents in {killed_at - started:.0f} s; "
          f"restart (model + Presidio) {restarted - killed_at:.0f} s; after it: "
          f"{args.docs - before['progress']['documents_done']} documents in {ended - restarted:.0f} s "
          f"(including the lease's run-out); whole job {ended - started:.0f} s")
    print(f"checks: {result}")
    for f in final["failures"]:
        print(f"failed: {f}")


if __name__ == "__main__":
    main()
