"""What one synchronous request can finish within the request time limit (``request_timeout_s``) on this machine.

Starts the real gateway (real model, Presidio, SQLite, FAISS) and times single requests that grow until one takes
more than ``--budget`` of the limit (or is refused with 504):

- ingest: ``POST /v1/collections/{name}/documents`` with 1, 2, 4, ... documents of ``--chars`` characters each
  (real sentences of the Python docs); prints seconds per document and how many fit in the limit;
- embeddings: ``POST /v1/embeddings`` with 64, 256, 1024, 2048 texts, short (one sentence) and long (~1,000
  characters, past the model's 256-token window, so every text costs a full window).

The "fits" figures keep a margin (``--margin``, default 0.7 of the limit): the machine is shared, and a request
that ends at 59 s today answers 504 tomorrow. Use an ingest job or a batch for anything larger.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/request_limits.py [--chars 30000] [--port 18601]
"""

from __future__ import annotations

import argparse
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

from bench._data import corpus_documents, python_doc_sentences  # noqa: E402
from bench.throughput import cpu_model, say  # noqa: E402
from tests.integration.server import GatewayProcess  # noqa: E402

MODEL = "all-MiniLM-L6-v2"


def timed(client: httpx.Client, path: str, body: object) -> tuple[int, float]:
    started = time.perf_counter()
    r = client.post(path, json=body)
    return r.status_code, time.perf_counter() - started


def ingest_curve(client: httpx.Client, docs: list[str], limit_s: float, budget: float) -> list[tuple[int, int, float]]:
    """(documents, status, seconds) per request, doubling until one passes ``budget`` of the limit."""
    rows: list[tuple[int, int, float]] = []
    used, n = 0, 1
    while used + n <= len(docs):
        batch = [{"id": f"d{used + i}", "text": docs[used + i]} for i in range(n)]
        status, seconds = timed(client, "/v1/collections/limits/documents", {"documents": batch})
        rows.append((n, status, seconds))
        say(f"ingest {n} x {len(docs[0])} chars: {status} in {seconds:.1f} s ({seconds / n:.2f} s/document)")
        used += n
        if status != 200 or seconds > budget * limit_s:
            break
        n *= 2
    return rows


def embed_curve(client: httpx.Client, texts: list[str], label: str, limit_s: float,
                budget: float) -> list[tuple[int, int, float]]:
    rows: list[tuple[int, int, float]] = []
    for n in (64, 256, 1024, 2048):
        status, seconds = timed(client, "/v1/embeddings", {"model": MODEL, "input": texts[:n]})
        rows.append((n, status, seconds))
        say(f"embeddings {n} {label} texts: {status} in {seconds:.1f} s ({n / seconds:.0f} texts/s)")
        if status != 200 or seconds > budget * limit_s:
            break
    return rows


def fits(rows: list[tuple[int, int, float]], limit_s: float, margin: float) -> tuple[float, int]:
    """Seconds per item of the largest successful request, and the items that fit in ``margin`` of the limit."""
    ok = [(n, s) for n, status, s in rows if status == 200]
    if not ok:
        return float("nan"), 0
    n, seconds = max(ok)
    per_item = seconds / n
    return per_item, int(margin * limit_s / per_item)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=30_000, help="characters per ingested document")
    parser.add_argument("--max-docs", type=int, default=63, help="documents ingested at most (1+2+4+...)")
    parser.add_argument("--budget", type=float, default=0.5, help="stop growing past this share of the limit")
    parser.add_argument("--margin", type=float, default=0.7, help="share of the limit a request should use")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    say("texts: building the corpus (Python docs sentences) ...")
    docs = corpus_documents(args.max_docs, args.chars, seed=5)
    short = python_doc_sentences(limit=2048, seed=9)
    long_texts = corpus_documents(2048, 1000, seed=11)
    with tempfile.TemporaryDirectory(prefix="bench-limits-") as tmp:
        gw = GatewayProcess(Path(tmp), port=args.port)
        gw.env = {"GATEWAY_MAX_CONCURRENT_PER_KEY": "0"}
        gw.prepare()
        key = gw.make_key("limits", "bench", "writer")
        say("gateway: starting ...")
        gw.start()
        limit_s = float(os.environ.get("GATEWAY_REQUEST_TIMEOUT_S", "60"))
        try:
            with httpx.Client(base_url=gw.url, timeout=limit_s + 60,
                              headers={"Authorization": f"Bearer {key}"}) as client:
                r = client.post("/v1/collections", json={"name": "limits", "model": MODEL})
                assert r.status_code == 201, r.text
                timed(client, "/v1/embeddings", {"model": MODEL, "input": short[:32]})  # warm-up
                ingest = ingest_curve(client, docs, limit_s, args.budget)
                emb_short = embed_curve(client, short, "short", limit_s, args.budget)
                emb_long = embed_curve(client, long_texts, "~1,000-char", limit_s, args.budget)
        finally:
            gw.stop()
    mean_short = sum(len(t) for t in short) / len(short)
    print(f"\n# request_limits.py  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  cpus={os.cpu_count()}  {cpu_model()}")
    print(f"request_timeout_s = {limit_s:g}; 'fits' keeps {args.margin:.0%} of it")
    for label, rows, unit in ((f"ingest, documents of {args.chars} chars", ingest, "documents"),
                              (f"embeddings, short texts (mean {mean_short:.0f} chars)", emb_short, "texts"),
                              ("embeddings, ~1,000-char texts", emb_long, "texts")):
        per_item, n = fits(rows, limit_s, args.margin)
        sizes = ", ".join(f"{n_}: {s:.1f} s" + ("" if st == 200 else f" ({st})") for n_, st, s in rows)
        print(f"{label}: {sizes}; {per_item * 1e3:.0f} ms per item -> about {n} {unit} per request")


if __name__ == "__main__":
    main()
