"""The int8 dynamically quantized variant against fp32, in one run: speed, cosine agreement, recall@10.

Corpus and queries are disjoint sentences of CPython's documentation (``pydoc_data.topics`` and docstrings, see
``bench/_data.py``). Recall@10 vs fp32: for each query, the share of fp32's top 10 (fp32 query against the fp32
corpus) that int8's top 10 (int8 query against the int8 corpus) also returns. The variant is offered only if that
recall is at least 0.99 (retrieval quality within 1%).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/quantized.py [--corpus 3000] [--queries 300]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from bench._data import python_doc_sentences  # noqa: E402
from bench._quantize import QUANTIZED_VERSION, quantize_int8, state_fingerprint  # noqa: E402
from gateway.embedding.embedder import SentenceTransformerEmbedder  # noqa: E402
from gateway.embedding.specs import DEFAULT_MODEL  # noqa: E402

THRESHOLD = 0.99


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def timed_encode(embedder: Any, texts: list[str], batch: int) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    out = np.vstack([embedder.encode(texts[i:i + batch]) for i in range(0, len(texts), batch)])
    return out, len(texts) / (time.perf_counter() - started)


def batch1_ms(embedder: Any, texts: list[str]) -> float:
    lat = []
    for t in texts:
        s = time.perf_counter()
        embedder.encode([t])
        lat.append(time.perf_counter() - s)
    return float(np.median(lat)) * 1e3


def recall_at(k: int, truth: np.ndarray, got: np.ndarray) -> float:
    return float(np.mean([len(set(t[:k]) & set(g[:k])) / k for t, g in zip(truth, got, strict=True)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=int, default=3000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    sentences = python_doc_sentences(limit=args.corpus + args.queries, seed=11)
    corpus, queries = sentences[:args.corpus], sentences[args.corpus:args.corpus + args.queries]
    say(f"{len(corpus)} corpus sentences, {len(queries)} queries; {os.cpu_count()} CPUs")
    fp32 = SentenceTransformerEmbedder(DEFAULT_MODEL, "cpu")
    int8 = SentenceTransformerEmbedder(DEFAULT_MODEL, "cpu")
    int8.quantize_model(quantize_int8)
    fingerprint = state_fingerprint(int8.model)
    again = SentenceTransformerEmbedder(DEFAULT_MODEL, "cpu")
    again.quantize_model(quantize_int8)
    deterministic = state_fingerprint(again.model) == fingerprint
    del again
    for e in (fp32, int8):
        e.encode(corpus[:64])  # warm-up
    c32, tps32 = timed_encode(fp32, corpus, 64)
    say(f"fp32: {tps32:.1f} texts/s at batch 64")
    c8, tps8 = timed_encode(int8, corpus, 64)
    say(f"int8: {tps8:.1f} texts/s at batch 64")
    q32, q8 = fp32.encode(queries), int8.encode(queries)
    lat32, lat8 = batch1_ms(fp32, queries[:100]), batch1_ms(int8, queries[:100])
    cos = np.sum(c32 * c8, axis=1)
    top32 = np.argsort(-(q32 @ c32.T), axis=1)[:, :10]
    top8 = np.argsort(-(q8 @ c8.T), axis=1)[:, :10]
    r10, r1 = recall_at(10, top32, top8), recall_at(1, top32, top8)
    offered = r10 >= THRESHOLD
    print(f"\n# quantized.py  corpus={len(corpus)} queries={len(queries)}  cpus={os.cpu_count()}")
    print(f"int8 variant: all-MiniLM-L6-v2@{QUANTIZED_VERSION}  fingerprint sha256:{fingerprint}"
          f"  deterministic across two quantizations: {deterministic}")
    print(f"speed batch 64: fp32 {tps32:.1f} texts/s  int8 {tps8:.1f} texts/s  speed-up {tps8 / tps32:.2f}x")
    print(f"latency batch 1 (median): fp32 {lat32:.1f} ms  int8 {lat8:.1f} ms")
    print(f"cosine(fp32, int8) per text: mean {cos.mean():.4f}  p1 {np.percentile(cos, 1):.4f}  min {cos.min():.4f}")
    print(f"recall@10 vs fp32: {r10:.4f}  recall@1 vs fp32: {r1:.4f}  threshold {THRESHOLD}: "
          f"{'OFFERED' if offered else 'NOT offered (retrieval quality moves by more than 1%)'}")


if __name__ == "__main__":
    main()
