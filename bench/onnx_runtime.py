"""ONNX Runtime against PyTorch for the in-process model, in one run: the raw forward path and the governed gateway.

Raw: the gateway's own embedder (same tokenization, pass planning and normalization) with ``model_runtime`` torch
(the transformer traced, as shipped) and onnx, and plain sentence-transformers ``encode`` beside them, at batch 1
(text by text: throughput and p50) and batch 32, on the same pydoc sentences, threads = cores for both runtimes.
Gateway: the real ``gateway serve`` with each runtime in turn (``--rounds`` alternations, torch first), under the
load of ``bench/throughput.py --quick``: one client (latency), 16 and 64 one-text clients, 32 texts per request
at 8 clients. The ONNX gateways get the graph exported by the raw phase (their ``onnx_cache_dir``), so their start-up
shows the cached path (load, hash, agreement check), not an export.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/onnx_runtime.py [--rounds 2] [--texts 512] [--n1 100] [--threads N] \
        [--port 9300]

``--rounds 0`` times the raw phase only (e.g. again with ``--threads 1``: one thread per pass is what each of
the gateway's embedding workers gets under load).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from bench._data import python_doc_sentences  # noqa: E402
from bench._load import LoadResult, drive, median, rss_bytes  # noqa: E402
from bench.throughput import TENANT, cpu_model, say  # noqa: E402
from tests.integration.server import GatewayProcess  # noqa: E402

# gateway variants: (label, environment); the first is the baseline of each round
VARIANTS = (("torch", {"GATEWAY_MODEL_RUNTIME": "torch"}),
            # onnx_threads 0: a lone pass on the cores, passes at once on one-thread sessions of their own
            ("onnx", {"GATEWAY_MODEL_RUNTIME": "onnx"}),
            ("onnx, 1 thread", {"GATEWAY_MODEL_RUNTIME": "onnx", "GATEWAY_ONNX_THREADS": "1"}))


def time_encode(encode: Any, texts: list[str], batch: int, seconds: float = 0.0) -> tuple[float, float]:
    """Texts/s and per-call p50 (s) of ``encode`` over ``texts`` in calls of ``batch`` (one warm-up call)."""
    encode(texts[:batch])
    calls = []
    started = time.perf_counter()
    for i in range(0, len(texts), batch):
        t = time.perf_counter()
        encode(texts[i:i + batch])
        calls.append(time.perf_counter() - t)
    return len(texts) / (time.perf_counter() - started), median(calls)


def raw_phase(texts: list[str], n1: int, cache: Path, threads: int) -> dict[str, dict[int, tuple[float, float]]]:
    import torch

    from gateway.embedding.embedder import SentenceTransformerEmbedder, available_cpus
    from gateway.embedding.specs import DEFAULT_MODEL

    cores = threads or available_cpus()
    torch.set_num_threads(cores)  # sentence-transformers' encode runs on torch's process-wide setting
    say(f"raw: loading the model on each runtime ({cores} threads) ...")
    torch_emb = SentenceTransformerEmbedder(DEFAULT_MODEL, batch_size=32, cpu_threads=cores)
    started = time.perf_counter()
    onnx_emb = SentenceTransformerEmbedder(DEFAULT_MODEL, batch_size=32, cpu_threads=cores, runtime="onnx",
                                           onnx_cache=cache)
    assert onnx_emb.onnx_graph is not None
    say(f"raw: ONNX graph {'exported' if onnx_emb.onnx_graph.exported else 'cached'} and checked in "
        f"{time.perf_counter() - started:.1f} s, worst cosine {onnx_emb.onnx_graph.worst_cosine:.6f}")
    st = torch_emb.model
    ways = {"sentence-transformers encode": lambda b: st.encode(b, batch_size=32, normalize_embeddings=True),
            "gateway embedder, torch (traced)": torch_emb.encode, "gateway embedder, onnx": onnx_emb.encode}
    out: dict[str, dict[int, tuple[float, float]]] = {name: {} for name in ways}
    for batch, sample in ((1, texts[:n1]), (32, texts)):
        for rep in range(2):  # interleaved, best of two: the machine is shared
            for name, encode in ways.items():
                tps, p50 = time_encode(encode, sample, batch)
                if rep == 0 or tps > out[name][batch][0]:
                    out[name][batch] = (tps, p50)
                say(f"raw {name} batch {batch}: {tps:.1f} texts/s, p50 {p50 * 1e3:.1f} ms per call")
    return out


def load_phase(label: str, gw: GatewayProcess, key: str, body: Any, clients: int, total: int,
               items: int = 1) -> LoadResult:
    r = drive(gw.url, "/v1/embeddings", key, body, clients=clients, total=total, items_per_request=items)
    say(f"  {label}: {r.items_per_s():.1f} texts/s, p50 {r.percentile(50) * 1e3:.1f} ms, "
        f"p99 {r.percentile(99) * 1e3:.1f} ms, statuses {r.statuses()}")
    return r


def gateway_phase(runtime: str, env: dict[str, str], texts: list[str], root: Path, port: int, cache: Path,
                  ) -> dict[str, Any]:
    gw = GatewayProcess(root, port=port)
    gw.env = {**env, "GATEWAY_MAX_CONCURRENT_PER_KEY": "0", "GATEWAY_ONNX_CACHE_DIR": str(cache)}
    gw.prepare()
    key = gw.make_key(TENANT, "bench", "writer")
    say(f"gateway {runtime}: starting ...")
    started = time.perf_counter()
    gw.start()
    start_s = time.perf_counter() - started
    assert gw.proc is not None
    try:
        one = lambda n: {"model": "all-MiniLM-L6-v2", "input": texts[n % len(texts)]}  # noqa: E731

        def batched(n: int) -> dict[str, Any]:
            start = (n * 32) % len(texts)
            return {"model": "all-MiniLM-L6-v2", "input": (texts + texts)[start:start + 32]}

        drive(gw.url, "/v1/embeddings", key, one, clients=8, total=64)  # warm-up
        out = {"start_s": start_s,
               "low": load_phase("1 client", gw, key, one, 1, 50),
               16: load_phase("16 clients", gw, key, one, 16, len(texts)),
               64: load_phase("64 clients", gw, key, one, 64, len(texts)),
               "many": load_phase("32 texts/request, 8 clients", gw, key, batched, 8, len(texts) // 16, items=32),
               "rss_mb": rss_bytes(gw.proc.pid) / 2**20}
    finally:
        gw.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="torch/onnx gateway alternations")
    parser.add_argument("--texts", type=int, default=512)
    parser.add_argument("--n1", type=int, default=100, help="texts timed one by one (batch 1)")
    parser.add_argument("--threads", type=int, default=0, help="threads of the raw phase (default: the cores)")
    parser.add_argument("--port", type=int, default=0, help="first port for the gateways (default: any free)")
    args = parser.parse_args()
    texts = python_doc_sentences(limit=max(args.texts, 512), seed=1)[:args.texts]
    say(f"{len(texts)} texts (pydoc sentences, mean {np.mean([len(t) for t in texts]):.0f} chars); "
        f"{os.cpu_count()} CPUs: {cpu_model()}")
    with tempfile.TemporaryDirectory(prefix="bench-onnx-") as tmp:
        cache = Path(tmp) / "onnx-cache"  # the raw phase's export, shared by the ONNX gateways (onnx_cache_dir)
        raw = raw_phase(texts, min(args.n1, len(texts)), cache, args.threads)
        runs: dict[str, list[dict[str, Any]]] = {label: [] for label, _ in VARIANTS}
        for i in range(args.rounds):
            for j, (label, env) in enumerate(VARIANTS):
                port = args.port + len(VARIANTS) * i + j if args.port else 0
                runs[label].append(gateway_phase(label, env, texts, Path(tmp) / f"gw-{i}-{j}", port, cache))
    report(raw, runs, args.threads)


def report(raw: dict[str, dict[int, tuple[float, float]]], runs: dict[str, list[dict[str, Any]]],
           threads: int) -> None:
    import onnxruntime
    import torch

    print(f"\n# onnx_runtime.py  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  cpus={os.cpu_count()}  {cpu_model()}  "
          f"torch {torch.__version__}  onnxruntime {onnxruntime.__version__}")
    print(f"## raw model, {threads or 'all'} threads (texts/s; p50 per call; x = ratio to the torch embedder)")
    base = raw["gateway embedder, torch (traced)"]
    for name, by in raw.items():
        cells = "  ".join(f"batch {b}: {tps:7.1f} ({p50 * 1e3:6.1f} ms) x{tps / base[b][0]:.2f}"
                          for b, (tps, p50) in sorted(by.items()))
        print(f"{name:<34} {cells}")
    print("## gateway (texts/s, p50/p99 ms); ratio to torch in the same round")
    base_label = VARIANTS[0][0]
    for i, base_run in enumerate(runs[base_label]):
        for label, k in (("1 client", "low"), ("16 clients", 16), ("64 clients", 64), ("32 texts x 8", "many")):
            cells = []
            for variant, _ in VARIANTS:
                r = runs[variant][i][k]
                cells.append(f"{variant} {r.items_per_s():6.1f} ({r.percentile(50) * 1e3:.0f}/"
                             f"{r.percentile(99) * 1e3:.0f}) x{r.items_per_s() / base_run[k].items_per_s():.2f}")
            print(f"round {i + 1} {label:<13} " + "  ".join(cells))
        print(f"round {i + 1} start-up / RSS " + "  ".join(
            f"{v}: {runs[v][i]['start_s']:.1f} s, {runs[v][i]['rss_mb']:.0f} MB" for v, _ in VARIANTS))


if __name__ == "__main__":
    main()
