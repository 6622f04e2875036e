"""The embedding stage: a sentence-transformers model loaded offline from the packaged weights.

``Embedder`` is the interface the pipeline needs; ``FakeEmbedder`` is its deterministic stand-in for unit tests.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from gateway.embedding.specs import ModelSpec, model_dir, verify_fingerprint
from gateway.embedding.traced import Forward, eager_forward, traced_forward
from gateway.errors import ConfigurationError
from gateway.observability.logs import VettedName
from gateway.pipeline.chunking import whitespace_offsets
from gateway.pipeline.cpus import available_cpus

if TYPE_CHECKING:
    from gateway.embedding.onnx_runtime import OnnxGraph

log = logging.getLogger(__name__)


class _LossTypeNotice(logging.Filter):
    """transformers reads a model's ``loss_function`` when the transformer is traced and, for a config without a
    known ``loss_type`` (the packaged one), prints once to stderr that it falls back to a causal-LM loss: meaningless
    for an encoder that never computes a loss, and a line outside the gateway's JSON log at every start."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("`loss_type=")


@contextmanager
def _quiet_loading() -> Iterator[None]:
    """No "Loading weights" progress bar on stderr while the model loads (``make run`` and every worker would print
    one), and no ``loss_type`` notice; transformers' other warnings (missing weights of a declared model) still show."""
    from transformers.utils import logging as hf_logging

    notices, bar = _LossTypeNotice(), hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    logging.getLogger("transformers.modeling_utils").addFilter(notices)
    try:
        yield
    finally:
        logging.getLogger("transformers.modeling_utils").removeFilter(notices)
        if bar:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]


class CoreShare:
    """Give each forward pass the cores no other one is using: all of them when it runs alone (a lone request's
    latency), one each when the workers are all busy. Small batches scale poorly across cores, so under load two
    single-threaded passes side by side beat one pass on both cores: on 2 cores, 164 against 118 texts/s
    (length-sorted runs of 16). torch's intra-op thread count belongs to the calling thread, so each worker sets
    its own before each pass. ``cores`` 0 leaves torch's own setting alone (a GPU)."""

    def __init__(self, cores: int, set_threads: Callable[[int], None]) -> None:
        self._cores = cores
        self._set_threads = set_threads
        self._running = 0
        self._lock = threading.Lock()

    @contextmanager
    def share(self) -> Iterator[int]:
        if not self._cores:
            yield 0
            return
        with self._lock:
            self._running += 1
            threads = max(1, self._cores // self._running)
        self._set_threads(threads)
        try:
            yield threads
        finally:
            with self._lock:
                self._running -= 1


# What one more forward pass costs on a CPU, in padded tokens of work: a pass of n texts whose longest has L word
# pieces costs about ``overhead + n * L``. Measured on 2 AMD EPYC cores, one thread per pass, groups of 16 pydoc
# sentences: 8.4-8.6 core-ms per text with 16 or 32 here, 12.8 in fixed sorted runs of 16, 9.9 in runs of 8.
CPU_PASS_OVERHEAD_TOKENS = 32


def plan_passes(lengths: Sequence[int], max_pass: int, overhead: int | None) -> list[list[int]]:
    """Group text indices into forward passes, longest first, at most ``max_pass`` each.

    ``overhead`` None: consecutive runs of ``max_pass`` in length order (a GPU, where a pass's fixed cost dwarfs
    its padding). Otherwise the split that minimizes the summed cost ``overhead + size * longest`` (dynamic
    programming over the sorted lengths): a CPU pays for every padded token, so a long text does not drag short
    ones up to its length merely because they arrived in the same micro-batch.
    """
    if max_pass < 1:
        raise ValueError("max_pass must be at least 1")
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    if overhead is None:
        return [order[s : s + max_pass] for s in range(0, len(order), max_pass)]
    longest = [lengths[i] for i in order]
    best = [0.0] + [math.inf] * len(order)  # best[j]: least cost of the first j texts in order
    cut = [0] * (len(order) + 1)  # where the last pass of that best plan starts
    for j in range(1, len(order) + 1):
        for i in range(max(0, j - max_pass), j):
            cost = best[i] + overhead + (j - i) * longest[i]
            if cost < best[j]:
                best[j], cut[j] = cost, i
    passes: list[list[int]] = []
    j = len(order)
    while j > 0:
        passes.append(order[cut[j] : j])
        j = cut[j]
    return passes[::-1]


class Embedder(Protocol):
    spec: ModelSpec

    def encode(self, texts: Sequence[str], token_counts: Sequence[int] | None = None) -> np.ndarray:
        """Unit-normalized float32 vectors, one row per text. ``token_counts`` (from ``count_tokens``), when the
        caller has them, spare counting again to plan the forward passes."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text as the model's tokenizer counts them (special tokens included)."""
        ...

    def offsets(self, text: str) -> list[tuple[int, int]]:
        """Character offsets of each word piece (no special tokens): what token-aware chunking needs."""
        ...


class SentenceTransformerEmbedder:
    """The real model. Loading verifies the weights fingerprint; nothing is fetched from a hub.

    ``runtime`` "onnx" runs the forward passes on ONNX Runtime instead of PyTorch: a graph exported from these
    weights into ``onnx_cache`` (the cache root, ``Settings.onnx_cache_root``) and checked against PyTorch
    (``gateway.embedding.onnx_runtime``); tokenization, pass planning and the final normalization stay the same."""

    def __init__(
        self, spec: ModelSpec, device: str = "cpu", fp16: bool = False, batch_size: int = 32, cpu_threads: int = 0,
        traced: bool = True, runtime: str = "torch", onnx_cache: Path = Path("var/onnx"), onnx_threads: int = 0,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.util import batch_to_device

        directory = model_dir(spec)
        self.fingerprint = verify_fingerprint(spec, directory)
        self.spec = spec
        self.device = device
        self.batch_size = batch_size
        if runtime not in ("torch", "onnx") or (runtime == "onnx" and device != "cpu"):
            raise ConfigurationError(f"model runtime {runtime!r} on device {device!r}: onnx runs on the cpu only")
        self.runtime = runtime
        self._onnx_cache = onnx_cache
        self.onnx_graph: OnnxGraph | None = None  # the verified graph, on runtime onnx
        self._onnx_threads = onnx_threads or cpu_threads or available_cpus()
        self._onnx_passes = cpu_threads or available_cpus()  # one-thread sessions made at load: a pass per core
        # Forward passes running at once (one per embedding worker) split the CPU's cores between them: torch's
        # thread count per pass here; on ONNX Runtime, whose pools are sized once per session, the graph's
        # ``SessionShare`` (a lone pass on ``onnx_threads``, the cores by default; concurrent ones one each).
        self._cores = CoreShare(cpu_threads if device == "cpu" and runtime == "torch" else 0, torch.set_num_threads)
        self._torch: Any = torch
        self._to_device: Callable[[dict[str, Any], Any], dict[str, Any]] = batch_to_device
        with _quiet_loading():
            self._model: Any = SentenceTransformer(str(directory), device=device, local_files_only=True)
        self._model.max_seq_length = spec.max_seq_length
        if fp16 and device.startswith("cuda"):
            self._model.half()
        self._tokenizer: Any = self._model.tokenizer
        # A fast tokenizer keeps its truncation and padding settings on the shared Rust object and changes them on
        # every call: counting (no padding) in one worker while another tokenizes a pass (padding) makes the
        # latter's batch ragged ("Unable to create tensor"). Tokenizing takes ~40 us a text; the lock costs nothing.
        self._tokenizer_lock = threading.Lock()
        self._traced = traced
        with _quiet_loading():
            self._forward = self._build_forward()

    def _build_forward(self) -> Forward:
        """The transformer traced (one GIL release a pass; see ``traced``), or eager when it cannot be; or the
        whole model on ONNX Runtime."""
        if self.runtime == "onnx":
            return self._onnx_forward()
        traced = traced_forward(self._model, self.spec.max_seq_length) if self._traced else None
        self.forward_mode = "eager" if traced is None else "traced"
        log.info("model %s version %s: transformer runs %s on %s", VettedName(self.spec.name),
                 VettedName(self.spec.version), VettedName(self.forward_mode), VettedName(self.device))
        return traced or eager_forward(self._model)

    def _onnx_forward(self) -> Forward:
        from gateway.embedding.onnx_runtime import load_graph

        graph = load_graph(self._model, self.spec, self.fingerprint, self._onnx_cache, self._onnx_threads,
                           narrow=self._onnx_passes)
        self.onnx_graph = graph
        self.forward_mode = "onnx"
        return lambda features: self._torch.from_numpy(graph.run(features))

    def describe_runtime(self) -> dict[str, Any] | None:
        """What audit entries say of the runtime, when it is not PyTorch: the ONNX graph's sha256 and opset."""
        return None if self.onnx_graph is None else self.onnx_graph.describe()

    @property
    def model(self) -> Any:
        """The loaded sentence-transformers model (for fingerprinting a derived variant)."""
        return self._model

    def quantize_model(self, quantize: Callable[[Any], Any]) -> None:
        """Replace the model by ``quantize(model)``; see ``bench._quantize`` (its spec and fingerprint)."""
        if self.runtime != "torch":  # the ONNX cache is keyed by the weights file, not by a derived state
            raise ConfigurationError("a quantized variant runs on model_runtime = torch only")
        self._model = quantize(self._model)
        self._forward = self._build_forward()

    def encode(self, texts: Sequence[str], token_counts: Sequence[int] | None = None) -> np.ndarray:
        """The model's own modules (transformer, pooling, normalization) on passes of similar-length texts.

        The same computation as ``SentenceTransformer.encode`` (a test holds them equal), without its per-call
        bookkeeping, which on a lone request cost about 1 ms of 15 (2 CPU cores), and with the transformer traced
        when it can be (``gateway.embedding.traced``). How texts are grouped into passes
        matters more: a micro-batch of mixed lengths padded as one spends about a third of its work on padding.
        Passes are planned on exact word-piece counts (``plan_passes``): at most ``batch_size`` texts each, and on
        a CPU split wherever padding would cost more than another pass.
        """
        out = np.zeros((len(texts), self.spec.dimension), dtype=np.float32)
        counts = self.count_tokens(texts) if token_counts is None else token_counts
        lengths = [min(c, self.spec.max_seq_length) for c in counts]
        overhead = CPU_PASS_OVERHEAD_TOKENS if self.device == "cpu" else None
        with self._cores.share(), self._torch.inference_mode():
            for rows in plan_passes(lengths, self.batch_size, overhead):
                with self._tokenizer_lock:
                    batch = self._model.preprocess([texts[i] for i in rows])
                features = self._to_device(batch, self._model.device)
                vectors = self._forward(features).float()
                vectors = self._torch.nn.functional.normalize(vectors, p=2, dim=1)
                out[rows] = vectors.cpu().numpy()
        return out

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        with self._tokenizer_lock:
            # verbose=False: counting a text past the model's length is expected here (encode truncates it), and
            # transformers would otherwise print an "indexing errors" warning outside the gateway's JSON log.
            encoded = self._tokenizer(list(texts), add_special_tokens=True, truncation=False,
                                      verbose=False)["input_ids"]
        return [len(ids) for ids in encoded]

    def offsets(self, text: str) -> list[tuple[int, int]]:
        with self._tokenizer_lock:
            enc = self._tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, truncation=False,
                                  verbose=False)
        return [(int(s), int(e)) for s, e in enc["offset_mapping"]]


class FakeEmbedder:
    """Deterministic hashed bag-of-words vectors: similar word sets give similar vectors. Unit tests only."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.fingerprint = spec.fingerprint
        self.calls: list[int] = []

    def encode(self, texts: Sequence[str], token_counts: Sequence[int] | None = None) -> np.ndarray:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.spec.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                h = int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "big")
                out[row, h % self.spec.dimension] += 1.0
            norm = float(np.linalg.norm(out[row]))
            out[row] = out[row] / norm if norm else 1.0 / np.sqrt(self.spec.dimension)
        return out

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(t.split()) + 2 for t in texts]

    def offsets(self, text: str) -> list[tuple[int, int]]:
        return whitespace_offsets(text)
