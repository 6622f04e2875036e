"""Fair sharing: a light tenant's latency while a heavy tenant saturates the gateway, against the light one alone.

Starts the real gateway (real model and Presidio). The light caller (tenant ``light``) sends one short text at a
time; first alone (the baseline), then while the heavy caller (tenant ``heavy``) keeps ``--heavy-clients``
requests of ``--heavy-batch`` texts each in flight. Prints the light caller's p50 and p99 in both phases and the
ratio of the p99s (the aim: within 2x), and how the heavy caller fared (its texts per second and its 429s).

The heavy clients run in a process of their own, at a lower CPU priority (``--heavy-nice``): they stand for
callers on other machines. In the light caller's process, their parsing of 256 vectors of JSON held the GIL for
tens of milliseconds at a time, and that wait was counted as the gateway's latency.

With ``--same-tenant`` the light caller is another API key of the heavy caller's tenant: each key's work waits in
a queue of its own (``gateway.pipeline.batching``), so a busy key does not starve its tenant's other keys either.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/fairness.py [--seconds 20] [--heavy-clients 4] [--heavy-batch 256]
                                                        [--same-tenant]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx  # noqa: E402

from bench._data import python_doc_sentences  # noqa: E402
from bench._load import percentile  # noqa: E402
from bench.throughput import cpu_model, say  # noqa: E402
from tests.integration.server import GatewayProcess  # noqa: E402

MODEL = "all-MiniLM-L6-v2"


def light_latencies(url: str, key: str, texts: list[str], seconds: float) -> list[float]:
    """One short text at a time for ``seconds``; the sorted latencies of the successful requests."""
    out: list[float] = []
    deadline = time.monotonic() + seconds
    with httpx.Client(timeout=120, headers={"Authorization": f"Bearer {key}"}) as client:
        i = 0
        while time.monotonic() < deadline:
            started = time.perf_counter()
            r = client.post(url + "/v1/embeddings", json={"model": MODEL, "input": texts[i % len(texts)]})
            if r.status_code == 200:
                out.append(time.perf_counter() - started)
            i += 1
    return sorted(out)


def heavy_client(url: str, key: str, texts: list[str], batch: int, stop: threading.Event,
                 counts: dict[str, int]) -> None:
    with httpx.Client(timeout=300, headers={"Authorization": f"Bearer {key}"}) as client:
        i = 0
        while not stop.is_set():
            body = {"model": MODEL, "input": [texts[(i + j) % len(texts)] for j in range(batch)]}
            r = client.post(url + "/v1/embeddings", json=body)
            counts[str(r.status_code)] = counts.get(str(r.status_code), 0) + 1
            if r.status_code == 200:
                counts["texts"] = counts.get("texts", 0) + batch
            i += batch


def heavy_process(url: str, key: str, texts: list[str], batch: int, clients: int, nice: int,
                  stop: Any, out: Any) -> None:
    """``clients`` heavy clients (threads) until ``stop`` is set; puts their response counts on ``out``."""
    os.nice(nice)
    halt, counts = threading.Event(), {}
    threads = [threading.Thread(target=heavy_client, args=(url, key, texts, batch, halt, counts))
               for _ in range(clients)]
    for t in threads:
        t.start()
    stop.wait()
    halt.set()
    for t in threads:
        t.join()
    out.put(counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--heavy-clients", type=int, default=4)
    parser.add_argument("--heavy-batch", type=int, default=256)
    parser.add_argument("--heavy-nice", type=int, default=10, help="the heavy clients' niceness (0: as the light)")
    parser.add_argument("--same-tenant", action="store_true",
                        help="the light caller is another key of the heavy caller's tenant (one queue per key)")
    args = parser.parse_args()
    texts = python_doc_sentences(limit=3000, seed=3)
    print(f"# fairness.py  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  cpus={os.cpu_count()}  {cpu_model()}"
          + ("  light key in the heavy key's tenant" if args.same_tenant else ""))
    with tempfile.TemporaryDirectory(prefix="bench-fair-") as tmp:
        gw = GatewayProcess(Path(tmp))
        gw.prepare()
        light_tenant = "heavy" if args.same_tenant else "light"
        light, heavy = gw.make_key(light_tenant, "svc", "writer"), gw.make_key("heavy", "svc", "writer")
        say("gateway: starting ...")
        gw.start()
        try:
            light_latencies(gw.url, light, texts, 3)  # warm-up
            say(f"light caller alone, {args.seconds:.0f} s ...")
            alone = light_latencies(gw.url, light, texts, args.seconds)
            spawn = multiprocessing.get_context("spawn")
            stop, results = spawn.Event(), spawn.Queue()
            loader = spawn.Process(target=heavy_process, args=(gw.url, heavy, texts, args.heavy_batch,
                                                               args.heavy_clients, args.heavy_nice, stop, results))
            loader.start()
            time.sleep(3)  # the heavy backlog builds up
            say(f"light caller beside {args.heavy_clients} heavy clients x {args.heavy_batch} texts, "
                f"{args.seconds:.0f} s (heavy niceness {args.heavy_nice}) ...")
            started = time.monotonic()
            loaded = light_latencies(gw.url, light, texts, args.seconds)
            heavy_s = time.monotonic() - started + 3
            stop.set()
            counts = results.get(timeout=600)
            loader.join()
        finally:
            gw.stop()
    p99_alone, p99_loaded = percentile(alone, 99), percentile(loaded, 99)
    print(f"light alone:  n={len(alone)}  p50 {percentile(alone, 50) * 1e3:.0f} ms  p99 {p99_alone * 1e3:.0f} ms")
    print(f"light loaded: n={len(loaded)}  p50 {percentile(loaded, 50) * 1e3:.0f} ms  "
          f"p99 {p99_loaded * 1e3:.0f} ms")
    print(f"p99 loaded / alone: {p99_loaded / p99_alone:.2f}  (aim: 2.0 or less)")
    print(f"heavy: {counts.get('texts', 0) / heavy_s:.0f} texts/s; responses "
          f"{ {k: v for k, v in counts.items() if k != 'texts'} }")


if __name__ == "__main__":
    main()
