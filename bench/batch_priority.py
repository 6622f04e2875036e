"""Interactive latency while a batch runs, against the same caller with no batch running (issue 23).

Starts the real gateway (real model and Presidio). An interactive caller (tenant ``interactive``) sends one short
text at a time: first alone (the baseline), then while a batch of ``--lines`` lines of tenant ``bulk`` runs in the
background. Prints the interactive p50 and p99 in both phases, their ratio, and the batch's lines per second.

With ``--small-behind``, the runner's fairness between tenants instead: the time from creation to ``completed`` of a
small batch (``--small`` lines, tenant ``small``) alone, then created while a large batch of ``--lines`` lines of
tenant ``bulk`` is running, and the ratio of the two (with the bulk lines answered meanwhile). Run it once on the
code before a change and once after (``PYTHONPATH=<the other tree>`` makes the gateway run that tree's code).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/batch_priority.py [--seconds 20] [--lines 4000]
    HF_HUB_OFFLINE=1 .venv/bin/python bench/batch_priority.py --small-behind [--lines 1500] [--small 10] [--port N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx  # noqa: E402

from bench._data import python_doc_sentences  # noqa: E402
from bench._load import percentile  # noqa: E402
from bench.fairness import light_latencies  # noqa: E402
from bench.throughput import cpu_model, say  # noqa: E402
from tests.integration.server import GatewayProcess  # noqa: E402

MODEL = "all-MiniLM-L6-v2"


def start_batch(url: str, key: str, texts: list[str], lines: int) -> str:
    rows = [json.dumps({"custom_id": f"l{n}", "method": "POST", "url": "/v1/embeddings",
                        "body": {"model": MODEL, "input": texts[n % len(texts)]}}) for n in range(lines)]
    auth = {"Authorization": f"Bearer {key}"}
    up = httpx.post(url + "/v1/files", headers=auth, files={"file": ("b.jsonl", "\n".join(rows).encode())},
                    data={"purpose": "batch"}, timeout=120).json()
    batch = httpx.post(url + "/v1/batches", headers=auth, timeout=60, json={
        "input_file_id": up["id"], "endpoint": "/v1/embeddings", "completion_window": "24h"}).json()
    return str(batch["id"])


def counts(url: str, key: str, batch_id: str) -> dict[str, int]:
    r = httpx.get(f"{url}/v1/batches/{batch_id}", headers={"Authorization": f"Bearer {key}"}, timeout=60)
    return dict(r.json()["request_counts"])


def until_done(url: str, key: str, batch_id: str, timeout_s: float = 1800.0) -> float:
    """Seconds from now until the batch is ``completed`` (polled every 0.1 s)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        r = httpx.get(f"{url}/v1/batches/{batch_id}", headers={"Authorization": f"Bearer {key}"}, timeout=60)
        if r.json()["status"] in ("completed", "failed", "cancelled", "expired"):
            return time.monotonic() - started
        time.sleep(0.1)
    raise RuntimeError("the batch did not end in time")


def small_behind(gw: GatewayProcess, texts: list[str], lines: int, small: int) -> None:
    """Time to completion of a small batch alone, then behind another tenant's large one, in one run."""
    small_key, bulk_key = gw.make_key("small", "svc", "writer"), gw.make_key("bulk", "svc", "writer")
    light_latencies(gw.url, small_key, texts, 3)  # warm-up
    say(f"a batch of {small} lines alone ...")
    t0 = time.monotonic()
    until_done(gw.url, small_key, start_batch(gw.url, small_key, texts, small))
    alone = time.monotonic() - t0
    bulk_id = start_batch(gw.url, bulk_key, texts, lines)
    before = counts(gw.url, bulk_key, bulk_id)
    while before["completed"] + before["failed"] < 32:  # the large batch is under way: two slices or more
        time.sleep(0.2)
        before = counts(gw.url, bulk_key, bulk_id)
    say(f"a batch of {small} lines behind another tenant's {lines} lines (at {before}) ...")
    t0 = time.monotonic()
    until_done(gw.url, small_key, start_batch(gw.url, small_key, texts, small))
    behind = time.monotonic() - t0
    after = counts(gw.url, bulk_key, bulk_id)
    bulk_meanwhile = after["completed"] + after["failed"] - before["completed"] - before["failed"]
    print(f"small batch ({small} lines) alone:  {alone:.1f} s to completed (upload and creation included)")
    print(f"small batch behind {lines} lines of another tenant: {behind:.1f} s; bulk lines answered meanwhile "
          f"{bulk_meanwhile} (bulk at {after['completed'] + after['failed']}/{lines} when it ended)")
    print(f"behind / alone: {behind / alone:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--lines", type=int, default=4000)
    parser.add_argument("--small-behind", action="store_true")
    parser.add_argument("--small", type=int, default=10)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    texts = python_doc_sentences(limit=3000, seed=5)
    print(f"# batch_priority.py  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  cpus={os.cpu_count()}  {cpu_model()}")
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        gw = GatewayProcess(Path(tmp), port=args.port)
        gw.prepare()
        if args.small_behind:
            say("gateway: starting ...")
            gw.start()
            try:
                small_behind(gw, texts, args.lines, args.small)
            finally:
                gw.stop()
            return
        interactive, bulk = gw.make_key("interactive", "svc", "writer"), gw.make_key("bulk", "svc", "writer")
        say("gateway: starting ...")
        gw.start()
        try:
            light_latencies(gw.url, interactive, texts, 3)  # warm-up
            say(f"interactive caller alone, {args.seconds:.0f} s ...")
            alone = light_latencies(gw.url, interactive, texts, args.seconds)
            batch_id = start_batch(gw.url, bulk, texts, args.lines)
            time.sleep(2)
            before, started = counts(gw.url, bulk, batch_id), time.monotonic()
            say(f"interactive caller while a batch of {args.lines} lines runs, {args.seconds:.0f} s ...")
            loaded = light_latencies(gw.url, interactive, texts, args.seconds)
            after, spent = counts(gw.url, bulk, batch_id), time.monotonic() - started
        finally:
            gw.stop()
    done = after["completed"] + after["failed"] - before["completed"] - before["failed"]
    p99_alone, p99_loaded = percentile(alone, 99), percentile(loaded, 99)
    print(f"interactive alone:       n={len(alone)}  p50 {percentile(alone, 50) * 1e3:.0f} ms  "
          f"p99 {p99_alone * 1e3:.0f} ms")
    print(f"interactive beside batch: n={len(loaded)}  p50 {percentile(loaded, 50) * 1e3:.0f} ms  "
          f"p99 {p99_loaded * 1e3:.0f} ms")
    print(f"p99 beside batch / alone: {p99_loaded / p99_alone:.2f}")
    print(f"batch: {done / spent:.0f} lines/s while the interactive caller ran ({after})")


if __name__ == "__main__":
    main()
