"""The functions the stages' micro-batchers run on their worker threads, and the per-tenant secrets they use.

Built once by the composition root (``gateway.bootstrap``) around the model and the detector it chose.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from gateway.crypto.keyfiles import KeyMaterial
from gateway.embedding.embedder import Embedder
from gateway.observability.metrics import GatewayMetrics
from gateway.pii.detector_types import DetectionSpend, Finding, PIIDetector
from gateway.pipeline.batching import MicroBatcher
from gateway.policy.loader import PolicyHolder, ScopePolicy
from gateway.settings import Settings

# A second batch is screened beside one in progress only for at least this many texts. A detection call has a fixed
# cost (spaCy's pipeline, Presidio's set-up, the pool's round trip): in a pool worker, pydoc sentences took 2.58 ms
# of CPU each one at a time, 1.62 in fours and 1.35 in sixteens (2 AMD EPYC cores). Without it, 32 one-text clients
# on one key sent the bulk workers batches of one or two as each request arrived.
PII_JOIN_MIN = 8


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


def detect_fn(detector: PIIDetector, gate: threading.Semaphore | None = None) -> Any:
    """A batch of short texts, screened once ``gate`` (if any) lets this thread hold one of a pool's workers."""

    def run(items: list[tuple[str, ScopePolicy]]) -> list[list[Finding]]:
        with gate or contextlib.nullcontext():
            return detector.analyze([t for t, _ in items], [s for _, s in items])

    return run


def detect_long_fn(detector: PIIDetector, budget_s: float, gate: threading.Semaphore | None = None) -> Any:
    """The long-text lane: each text alone, within what is left of its request's detection budget (waiting at
    ``gate`` counts, as waiting for a free worker does)."""

    def run(items: list[tuple[str, ScopePolicy, DetectionSpend]]) -> list[list[Finding]]:
        out: list[list[Finding]] = []
        for text, scope, spend in items:
            started = time.perf_counter()
            try:
                with gate or contextlib.nullcontext():
                    out.extend(detector.analyze([text], [scope], budget_s=budget_s - spend.seconds))
            finally:
                spend.seconds += time.perf_counter() - started
        return out

    return run


def detection_batchers(
    detector: PIIDetector, settings: Settings, metrics: GatewayMetrics, policy: PolicyHolder, threads: int = 1,
) -> tuple[MicroBatcher[tuple[str, ScopePolicy], list[Finding]],
           MicroBatcher[tuple[str, ScopePolicy, DetectionSpend], list[Finding]]]:
    """The PII stage's two batchers: texts batched in weighted round-robin per tenant, ``threads`` batches at once
    (a pool's workers), and long texts (4,096 characters or more) on a lane of their own, one at a time under the
    request's budget (see ``EmbeddingPipeline.detect``), so that long texts hold at most one of a pool's workers.

    With ``express_batch_size``, light tenants' texts have a worker of their own (``MicroBatcher``'s express
    worker): in this process a second thread; with a pool of two or more, one of its workers, kept for it: the
    bulk batches and the long-text lane share the others (``gate``). Without the gate, two bulk batches and a long
    text held all three workers on 2 cores, and a light caller's text waited for a whole batch of the heavy
    tenant's, which has no detection budget (attack11: its median 1.2 s against 46 ms alone)."""
    express = bool(settings.express_batch_size) and threads > 1
    gate = threading.BoundedSemaphore(threads - 1) if express else None
    detect = MicroBatcher(
        detect_fn(detector, gate), name="pii", express_fn=detect_fn(detector) if express else None,
        max_size=settings.stage_batch_size,
        max_weight=settings.batch_max_tokens, max_wait_s=settings.batch_max_wait_ms / 1000,
        max_queued_items=settings.queue_max_items, on_batch=metrics.batch_hook("pii", "pii"),
        workers=threads - 1 if express else threads,
        join_min=PII_JOIN_MIN,
        lane_weight=lambda tenant: policy.current().scope(tenant).scheduling_weight,
        express_max_size=settings.express_batch_size,
    )
    detect_long = MicroBatcher(
        detect_long_fn(detector, settings.pii_budget_s, gate), name="pii-long", max_size=1,
        max_queued_items=settings.queue_max_items, on_batch=metrics.batch_hook("pii-long", "pii"),
    )
    return detect, detect_long
