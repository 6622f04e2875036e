"""What uploads to the Files API cost another tenant: one-word ``/v1/embeddings`` latency (p50, max) while
``--uploads`` threads of one tenant each upload a file of ``--mb`` MB (``POST /v1/files``), against the same
requests with no upload running, and the uploads' statuses (200, or 429 past the upload caps).

Starts the real gateway (real model, Presidio, SQLite). ``--caps`` sets ``files_max_concurrent_uploads`` and
``files_max_tenant_uploads`` (default: the settings' defaults, 2 and 1; ``--caps 4`` lets all four in at once).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/upload_interference.py [--uploads 4] [--mb 50] [--caps 4] [--port 19050]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx  # noqa: E402

from bench.throughput import cpu_model, say  # noqa: E402
from tests.integration.server import GatewayProcess  # noqa: E402

MODEL = "all-MiniLM-L6-v2"
LINE = b'{"custom_id": "c-%d", "method": "POST", "url": "/v1/embeddings", "body": {"model": "m", "input": "%s"}}\n'


def payload(mb: int) -> bytes:
    text = b"a note about policy renewals " * 30
    rows, size, n = [], 0, 0
    while size < mb * 1_000_000:
        row = LINE % (n, text)
        rows.append(row)
        size, n = size + len(row), n + 1
    return b"".join(rows)


def probe(client: httpx.Client, until: threading.Event, seconds: float) -> list[float]:
    """One-word embeddings one after another until ``until`` is set (or ``seconds`` pass); their latencies."""
    out: list[float] = []
    deadline = time.monotonic() + seconds
    while not until.is_set() and time.monotonic() < deadline:
        started = time.perf_counter()
        r = client.post("/v1/embeddings", json={"model": MODEL, "input": "hello"})
        assert r.status_code == 200, r.text
        out.append(time.perf_counter() - started)
    return out


def summary(latencies: list[float]) -> str:
    return (f"n={len(latencies)} p50={statistics.median(latencies) * 1e3:.0f} ms "
            f"max={max(latencies) * 1e3:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=4)
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--caps", type=int, default=0, help="0: the default caps")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    body = payload(args.mb)
    with tempfile.TemporaryDirectory(prefix="bench-uploads-") as tmp:
        gw = GatewayProcess(Path(tmp), port=args.port)
        gw.env = {}
        if args.caps:
            gw.env |= {"GATEWAY_FILES_MAX_CONCURRENT_UPLOADS": str(args.caps),
                       "GATEWAY_FILES_MAX_TENANT_UPLOADS": str(args.caps)}
        gw.prepare()
        uploader, other = gw.make_key("acme", "bulk", "writer"), gw.make_key("globex", "probe", "writer")
        say("gateway: starting ...")
        gw.start()
        statuses: list[int] = []
        try:
            with httpx.Client(base_url=gw.url, timeout=120, headers={"Authorization": f"Bearer {other}"}) as client:
                probe(client, threading.Event(), 1.0)  # warm-up
                idle = probe(client, threading.Event(), 5.0)

                def upload() -> None:
                    r = httpx.post(gw.url + "/v1/files", headers={"Authorization": f"Bearer {uploader}"},
                                   files={"file": ("in.jsonl", body)}, data={"purpose": "batch"}, timeout=300)
                    statuses.append(r.status_code)

                done = threading.Event()
                threads = [threading.Thread(target=upload) for _ in range(args.uploads)]
                started = time.perf_counter()
                for t in threads:
                    t.start()
                watcher = threading.Thread(target=lambda: ([t.join() for t in threads], done.set()))
                watcher.start()
                busy = probe(client, done, 300.0)
                watcher.join()
                took = time.perf_counter() - started
        finally:
            gw.stop()
    print(f"\n# upload_interference.py  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  cpus={os.cpu_count()}  {cpu_model()}")
    print(f"{args.uploads} uploads of {len(body) / 1e6:.0f} MB, caps={args.caps or 'default'}: statuses "
          f"{sorted(statuses)} in {took:.1f} s")
    print(f"another tenant's one-word embeddings, idle: {summary(idle)}; during the uploads: {summary(busy)}")


if __name__ == "__main__":
    main()
