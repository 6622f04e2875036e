"""How long one large request holds up everyone else: /healthz latency while it runs, against an idle gateway.

One event loop serves every request of a gateway process, so a synchronous step that grows with one request (its
normalization, noise, JSON, an ingest's chunking and write) delays all the others. This starts the real gateway
(full governance, real model and Presidio), probes ``/healthz`` every 5 ms from another connection, first with
nothing else running (the baseline) and then during each large request, and prints the probe's p99 and worst
latency, and the worst against the idle p99.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/loop_stall.py [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
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


def probe_during(url: str, work: Callable[[], int]) -> tuple[int, float, list[float]]:
    """(status of the work, its seconds, sorted /healthz latencies while it ran)."""
    stop = threading.Event()
    latencies: list[float] = []

    def probe() -> None:
        with httpx.Client() as client:
            while not stop.is_set():
                started = time.perf_counter()
                client.get(url + "/healthz")
                latencies.append(time.perf_counter() - started)
                time.sleep(0.005)

    thread = threading.Thread(target=probe)
    thread.start()
    time.sleep(0.3)
    started = time.perf_counter()
    status = work()
    took = time.perf_counter() - started
    time.sleep(0.2)
    stop.set()
    thread.join()
    return status, took, sorted(latencies)


def post(client: httpx.Client, url: str, body: dict[str, Any]) -> Callable[[], int]:
    return lambda: client.post(url, json=body).status_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    texts = python_doc_sentences(limit=3000, seed=1)
    print(f"# loop_stall.py  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  cpus={os.cpu_count()}  {cpu_model()}")
    with tempfile.TemporaryDirectory(prefix="bench-stall-") as tmp:
        gw = GatewayProcess(Path(tmp))
        gw.prepare()
        key = gw.make_key("bench", "bench", "writer")
        say("gateway: starting ...")
        gw.start()
        client = httpx.Client(timeout=300, headers={"Authorization": f"Bearer {key}"})
        assert client.post(gw.url + "/v1/collections", json={"name": "docs"}).status_code == 201
        client.post(gw.url + "/v1/embeddings", json={"model": MODEL, "input": texts[:64]})  # warm-up
        _, _, idle = probe_during(gw.url, lambda: (time.sleep(3), 200)[1])
        idle_p99 = percentile(idle, 99)
        print(f"idle gateway: /healthz p50 {percentile(idle, 50) * 1e3:.1f} ms  p99 {idle_p99 * 1e3:.1f} ms  "
              f"max {idle[-1] * 1e3:.1f} ms")
        for r in range(args.rounds):
            docs = [{"id": f"r{r}d{i}", "text": " ".join(texts[(i * 40) % 2900:(i * 40) % 2900 + 40])}
                    for i in range(64)]
            cases = [
                ("embeddings, 2,048 inputs, float ", post(client, gw.url + "/v1/embeddings", {
                    "model": MODEL, "input": texts[:2048], "encoding_format": "float"})),
                ("embeddings, 2,048 inputs, base64", post(client, gw.url + "/v1/embeddings", {
                    "model": MODEL, "input": texts[:2048], "encoding_format": "base64"})),
                (f"ingest, 64 documents x {sum(len(d['text']) for d in docs) // 64} chars",
                 post(client, gw.url + "/v1/collections/docs/documents", {"documents": docs})),
            ]
            for label, work in cases:
                say(f"round {r + 1}: {label.strip()} ...")
                status, took, lat = probe_during(gw.url, work)
                print(f"{label}: status {status}, {took:5.1f} s; /healthz meanwhile p99 "
                      f"{percentile(lat, 99) * 1e3:5.1f} ms  max {lat[-1] * 1e3:5.1f} ms  "
                      f"max / idle p99 {lat[-1] / idle_p99:5.1f}")
        gw.stop()


if __name__ == "__main__":
    main()
