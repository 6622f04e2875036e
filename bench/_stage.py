"""The gateway's embedding stage in-process, against the raw model: what batching and noise cost without HTTP.

Used by ``throughput.py --stage-only`` where the full gateway cannot run (the GPU machine has no package registry
for Presidio, spaCy, litestar and FAISS). The stage is the gateway's own code: ``SentenceTransformerEmbedder``
(fingerprint verified), ``MicroBatcher`` (the service's embed function: encode + exact token counts), then per
request the keyed HMAC digest and ``keyed_gaussian_noise``, driven by ``concurrency`` concurrent one-text callers.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from bench._load import median, percentile
from gateway.embedding.embedder import SentenceTransformerEmbedder
from gateway.embedding.specs import DEFAULT_MODEL
from gateway.pipeline.batching import MicroBatcher
from gateway.privacy.noise import keyed_gaussian_noise
from gateway.settings import load_settings

Say = Callable[[str], None]


def time_raw(model: Any, texts: list[str], sizes: list[int], n1: int, say: Say, tries: int = 2) -> dict[str, Any]:
    """Texts/s of plain ``model.encode`` per batch size, and its batch-1 latency distribution.

    Each batch size is one ``encode(texts, batch_size=size)`` call over all the texts, as a caller holding a corpus
    would make it: sentence-transformers then sorts the whole set by length, so its batches carry almost no
    padding. That is the raw model at its best, the baseline the gateway (which only sees what is queued) must
    approach. Each size is timed twice and the better run kept, so one hiccup of a shared machine does not lower
    the bar.
    """

    def encode(batch: list[str], size: int) -> Any:
        return model.encode(batch, batch_size=size, normalize_embeddings=True, convert_to_numpy=True,
                            show_progress_bar=False)

    encode(texts[:256], 64)  # warm-up
    lat = []
    for t in texts[:n1]:
        s = time.perf_counter()
        encode([t], 1)
        lat.append(time.perf_counter() - s)
    lat.sort()
    out: dict[str, Any] = {"b1_p50": median(lat), "b1_p99": percentile(lat, 99), "b1_tps": n1 / sum(lat),
                           "by_size": {}}
    say(f"raw batch 1: {out['b1_tps']:.1f} texts/s, p50 {out['b1_p50'] * 1e3:.1f} ms")
    for size in sizes:
        best = 0.0
        for _ in range(tries):
            s = time.perf_counter()
            encode(texts, size)
            best = max(best, len(texts) / (time.perf_counter() - s))
        out["by_size"][size] = best
        say(f"raw batch {size}: {best:.1f} texts/s")
    out["best_size"] = max(out["by_size"], key=out["by_size"].get)
    out["best_tps"] = out["by_size"][out["best_size"]]
    return out


async def _drive(batcher: MicroBatcher[str, tuple[np.ndarray, int]], texts: list[str], concurrency: int,
                 per_request: int) -> float:
    key = hashlib.sha256(b"bench tenant noise key").digest()
    counter = iter(range(0, len(texts), per_request))

    async def client() -> None:
        for start in counter:
            batch = texts[start:start + per_request]
            digests = [hmac.new(key, t.encode(), hashlib.sha256).digest() for t in batch]
            got = await batcher.submit(batch, [max(1, len(t) // 4) for t in batch])
            keyed_gaussian_noise(np.stack([v for v, _ in got]), 0.01, key, digests, "1.0.0")

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return len(texts) / (time.perf_counter() - started)


def run_stage(weights: Path | None, device: str, fp16: bool, texts: list[str], sizes: list[int],
              concurrency: int, max_batch: int, say: Say, n1: int = 200, tries: int = 2) -> dict[str, Any]:
    spec = replace(DEFAULT_MODEL, weights_dir=str(weights)) if weights else DEFAULT_MODEL
    settings = load_settings({}, device=device)  # the gateway's own choice of forward-pass size for the device
    embedder = SentenceTransformerEmbedder(spec, device, fp16, batch_size=settings.model_batch_size)
    say(f"model loaded on {device}{' fp16' if fp16 else ''}; fingerprint verified")
    raw = time_raw(embedder.model, texts, sizes, n1, say, tries)  # the same loaded model, called directly

    def embed(batch: list[str]) -> list[tuple[np.ndarray, int]]:
        return list(zip(embedder.encode(batch), embedder.count_tokens(batch), strict=True))

    s = time.perf_counter()
    for i in range(0, len(texts), raw["best_size"]):
        embedder.count_tokens(texts[i:i + raw["best_size"]])
    raw["count_tokens_tps"] = len(texts) / (time.perf_counter() - s)
    out: dict[str, Any] = {"raw": raw, "stage": {}}
    for wait_ms in (2.0, 8.0):
        batcher: MicroBatcher[str, tuple[np.ndarray, int]] = MicroBatcher(
            embed, name="embed", max_size=max_batch, max_weight=max_batch * 64, max_wait_s=wait_ms / 1000,
            max_queued_items=1 << 20)
        try:
            for per_request in (1, 32):
                tps = asyncio.run(_drive(batcher, texts, concurrency, per_request))
                sizes_seen = list(batcher.stats.sizes)
                mean_b = float(np.mean(sizes_seen)) if sizes_seen else 0.0
                out["stage"][(wait_ms, per_request)] = (tps, mean_b)
                say(f"stage wait {wait_ms:g} ms, {per_request} text/request, {concurrency} callers: {tps:.0f} texts/s "
                    f"(ratio {tps / raw['best_tps']:.2f}), mean batch {mean_b:.0f}")
                batcher.stats.sizes.clear()
        finally:
            batcher.close()
    return out
