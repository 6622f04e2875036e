"""The functions the stages' micro-batchers run on their worker threads, and the per-tenant secrets they use.

Built once by the composition root (``gateway.bootstrap``) around the model and the detector it chose.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from gateway.crypto.keyfiles import KeyMaterial
from gateway.embedding.embedder import Embedder
from gateway.pii.detector_types import DetectionSpend, Finding, PIIDetector
from gateway.policy.loader import ScopePolicy


def embed_fn(embedder: Embedder) -> Any:
    def run(texts: list[str]) -> list[tuple[np.ndarray, int]]:
        tokens = embedder.count_tokens(texts)
        vectors = embedder.encode(texts, tokens)
        return list(zip(vectors, tokens, strict=True))

    return run


def cached_secrets(keys: KeyMaterial, max_entries: int = 4096) -> Callable[[str, str], bytes]:
    """``keys.tenant_secret`` memoized: HKDF is deterministic, and each request derived 3-4 secrets anew (about
    14 us each, measured: small, but pure waste on the hot path). Bounded; the root already lives in memory."""
    return functools.lru_cache(maxsize=max_entries)(keys.tenant_secret)


def detect_fn(detector: PIIDetector) -> Any:
    def run(items: list[tuple[str, ScopePolicy]]) -> list[list[Finding]]:
        return detector.analyze([t for t, _ in items], [s for _, s in items])

    return run


def detect_long_fn(detector: PIIDetector, budget_s: float) -> Any:
    """The long-text lane: each text alone, within what is left of its request's detection budget."""

    def run(items: list[tuple[str, ScopePolicy, DetectionSpend]]) -> list[list[Finding]]:
        out: list[list[Finding]] = []
        for text, scope, spend in items:
            started = time.perf_counter()
            try:
                out.extend(detector.analyze([text], [scope], budget_s=budget_s - spend.seconds))
            finally:
                spend.seconds += time.perf_counter() - started
        return out

    return run
