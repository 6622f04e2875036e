"""Interactive latency while a large ingest job runs: p50/p99 of one-text ``/v1/embeddings`` requests alone, beside
an ingest job (``Prefer: respond-async``, run in the background at low priority), and beside the same documents sent
as synchronous ingest requests (the interactive priority), in one run; with ``--pii-workers 0,2`` the whole run
again for each value of the ``pii_workers`` setting (0: PII detection in the gateway's process), each with its own
gateway, and the p99s compared with the first's.

Starts the real gateway (real model and Presidio). The interactive caller (tenant ``light``) sends one short text at
a time (closed loop, as ``bench/fairness.py``); the ingest (tenant ``bulk``) posts ``--docs`` documents of
``--chars`` characters. Prints each phase's p50/p99, the p99 ratio to the alone phase, and the ingest's documents
per second in each loaded phase.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/job_interference.py [--seconds 30] [--docs 64] [--chars 30000]
        [--pii-workers auto] [--phases screen,sync,job]
"""

from __future__ import annotations

import argparse
import itertools
import os
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

from bench._data import corpus_documents, python_doc_sentences  # noqa: E402
from bench._load import percentile  # noqa: E402
from bench.fairness import light_latencies  # noqa: E402
from bench.throughput import cpu_model, say  # noqa: E402
from tests.integration.server import GatewayProcess  # noqa: E402

MODEL = "all-MiniLM-L6-v2"


def run_job(client: httpx.Client, collection: str, docs: list[dict[str, str]], stop: threading.Event,
            done: dict[str, float]) -> None:
    """Submit the documents as one ingest job and poll it until it ends (or ``stop``)."""
    r = client.post(f"/v1/collections/{collection}/documents", json={"documents": docs},
                    headers={"Prefer": "respond-async"})
    if r.status_code != 202:
        raise RuntimeError(f"the job was not accepted: {r.status_code} {r.text[:300]}")
    location = r.headers["location"]
    started = time.monotonic()
    while not stop.is_set():
        job = client.get(location).json()
        done["documents"] = float(job.get("progress", {}).get("documents_done", 0))
        done["seconds"] = time.monotonic() - started
        if job.get("status") in ("completed", "failed", "cancelled"):
            done["status_" + str(job["status"])] = 1.0
            return
        time.sleep(0.5)


def run_sync(client: httpx.Client, collection: str, docs: list[dict[str, str]], per_request: int,
             stop: threading.Event, done: dict[str, float]) -> None:
    """The same documents as synchronous ingest requests of ``per_request`` documents, back to back."""
    started = time.monotonic()
    for i in range(0, len(docs), per_request):
        if stop.is_set():
            return
        r = client.post(f"/v1/collections/{collection}/documents", json={"documents": docs[i:i + per_request]})
        if r.status_code == 200:
            done["documents"] = done.get("documents", 0.0) + len(docs[i:i + per_request])
        done["seconds"] = time.monotonic() - started


def run_screen(client: httpx.Client, docs: list[dict[str, str]], stop: threading.Event,
               done: dict[str, float]) -> None:
    """The documents' texts screened by ``/v1/pii/analyze`` (detection only, nothing embedded), back to back."""
    started = time.monotonic()
    for doc in itertools.cycle(docs):
        if stop.is_set():
            return
        r = client.post("/v1/pii/analyze", json={"text": doc["text"]})
        key = "documents" if r.status_code == 200 else f"status_{r.status_code}"
        done[key] = done.get(key, 0.0) + 1
        done["seconds"] = time.monotonic() - started


def phase(label: str, gw: GatewayProcess, light: str, texts: list[str], seconds: float,
          background: threading.Thread | None, stop: threading.Event) -> list[float]:
    if background is not None:
        background.start()
        time.sleep(3)  # the ingest is under way
    say(f"{label}: {seconds:.0f} s ...")
    out = light_latencies(gw.url, light, texts, seconds)
    stop.set()
    if background is not None:
        background.join()
    return out


def run_once(args: argparse.Namespace, pii_workers: str, texts: list[str],
             bodies: list[str]) -> dict[str, tuple[list[float], dict[str, float]]]:
    """One gateway with ``pii_workers``: the interactive caller alone, then beside each kind of ingest."""
    results: dict[str, tuple[list[float], dict[str, float]]] = {}
    named = {"screen": ("beside long-text screening", run_screen), "sync": ("beside synchronous ingests", run_sync),
             "job": ("beside an ingest job", run_job)}
    kinds = [named[p] for p in args.phases.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        gw = GatewayProcess(Path(tmp), port=args.port)
        gw.env = {"GATEWAY_MAX_CONCURRENT_PER_KEY": "0", "GATEWAY_PII_WORKERS": pii_workers}
        gw.prepare()
        light, bulk = gw.make_key("light", "svc", "writer"), gw.make_key("bulk", "svc", "writer")
        say(f"gateway (pii_workers={pii_workers}): starting ...")
        started = time.monotonic()
        gw.start()
        say(f"gateway ready in {time.monotonic() - started:.0f} s")
        try:
            with httpx.Client(base_url=gw.url, timeout=300, headers={"Authorization": f"Bearer {bulk}"}) as client:
                for name in ("viajob", "viasync"):
                    r = client.post("/v1/collections", json={"name": name, "model": MODEL})
                    assert r.status_code == 201, r.text
                light_latencies(gw.url, light, texts, 3)  # warm-up
                results["alone"] = (phase("alone", gw, light, texts, args.seconds, None, threading.Event()), {})
                # The job last: it goes on in the background after its phase, and would load a later one.
                for name, target in kinds:
                    collection = "viajob" if target is run_job else "viasync"
                    docs = [{"id": f"{collection}-{i}", "text": t} for i, t in enumerate(bodies)]
                    stop, done = threading.Event(), {}
                    extra = (args.per_request,) if target is run_sync else ()
                    first = () if target is run_screen else (collection,)
                    worker = threading.Thread(target=target, args=(client, *first, docs, *extra, stop, done))
                    results[name] = (phase(name, gw, light, texts, args.seconds, worker, stop), done)
        finally:
            gw.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--docs", type=int, default=64)
    parser.add_argument("--chars", type=int, default=30_000)
    parser.add_argument("--per-request", type=int, default=2, help="documents per synchronous ingest request")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--pii-workers", default="auto", help="pii_workers values to run, comma-separated")
    parser.add_argument("--phases", default="sync,job", help="loaded phases, in order, from screen (the documents "
                        "screened by /v1/pii/analyze, detection only), sync and job (the job last: it runs on)")
    args = parser.parse_args()
    texts = python_doc_sentences(limit=3000, seed=3)
    bodies = corpus_documents(args.docs, args.chars, seed=21)
    print(f"# job_interference.py  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  cpus={os.cpu_count()}  {cpu_model()}")
    first: dict[str, float] = {}
    for pii_workers in args.pii_workers.split(","):
        results = run_once(args, pii_workers, texts, bodies)
        alone_p99 = percentile(results["alone"][0], 99)
        print(f"## pii_workers={pii_workers}")
        for name, (lat, done) in results.items():
            rate = done.get("documents", 0) / done["seconds"] if done.get("seconds") else 0.0
            refused = "".join(f" ({v:.0f} answered {k[7:]})" for k, v in done.items() if k.startswith("status_4"))
            ingest = f"  load: {done.get('documents', 0):.0f} docs at {rate:.2f} docs/s{refused}" if done else ""
            p99 = percentile(lat, 99)
            against = f"  p99/first {p99 / first[name]:5.2f}" if name in first else ""
            first.setdefault(name, p99)
            print(f"{name:<28} n={len(lat):<5} p50 {percentile(lat, 50) * 1e3:6.0f} ms  p99 "
                  f"{p99 * 1e3:6.0f} ms  p99/alone {p99 / alone_p99:5.2f}{against}{ingest}", flush=True)


if __name__ == "__main__":
    main()
