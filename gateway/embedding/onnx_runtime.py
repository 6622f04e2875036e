"""The in-process model on ONNX Runtime: exported here from the packaged weights, cached, checked against PyTorch.

**Export.** ``torch.onnx.export`` (the TorchScript-based exporter, ``dynamo=False``: it needs ``onnx`` but not
``onnxscript``), opset ``OPSET``, of the model's own modules end to end: transformer, pooling and normalization,
batch and sequence length dynamic. Tokenization is not in the graph: it stays the sentence-transformers tokenizer's
(the same ``preprocess`` call as the PyTorch runtime), so the word pieces, truncation and padding are the same.

**Cache.** ``<root>/<name>-<key>/`` holds ``model.onnx`` and ``manifest.json`` (the root: ``onnx_cache_dir``, by
default ``<data_dir>/onnx``; one root may serve many gateways of one user, e.g. a test suite's, as nothing in it is
used unchecked); the key hashes the source weights' sha256 (verified at load), the opset, the torch version and
``FORMAT``, so changed weights (or a changed exporter) get a new export and never an old graph. The root and the
directory are 0700 and this user's (another's is refused), the files 0600, and an exclusive lock on the directory
lets one process export while the others starting beside it wait, then read its graph. The graph is read once,
hashed and handed to ONNX Runtime as bytes; a graph whose sha256 is not the manifest's (edited, truncated), a manifest
that does not describe this export, or a graph ONNX Runtime cannot load is exported again (logged as a warning).

**Agreement.** Before it serves, the graph's vectors of ``PROBES`` (short, truncated at the model's maximum length,
non-English, empty-ish; in one padded batch and one by one) are compared with sentence-transformers' own ``encode``:
a cosine under ``MIN_COSINE`` for any of them is a ``ConfigurationError`` and the gateway refuses to start (no silent
fall-back: the operator asked for this runtime). This runs at every start, cached graph or not, so a graph edited
together with its manifest is refused too.

**Sessions.** ONNX Runtime sizes a session's thread pool once, at creation, so the cores are shared as
``gateway.embedding.embedder.CoreShare`` shares them for PyTorch, with sessions instead of a thread count
(``SessionShare``): a pass that runs alone gets the wide session (``threads``, default the cores), and passes
that run at the same time get one single-threaded session each, which computes on the calling thread (so an
embedding worker's niceness applies to its pass). Small batches scale poorly across cores: two one-thread passes
side by side do more work per core-second than two passes contending for one shared pool. Every session is built
from the same verified bytes, and the agreement check runs on each one created at load.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import logging
import os
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from audit.atomic import write_atomically
from gateway.embedding.specs import ModelSpec
from gateway.errors import ConfigurationError
from gateway.observability.logs import VettedName

log = logging.getLogger(__name__)

OPSET = 17
FORMAT = 1  # bump when what is exported changes (inputs, outputs, modules): old caches are then not used
MIN_COSINE = 0.9999
GRAPH_FILE = "model.onnx"
MANIFEST_FILE = "manifest.json"
OUTPUT = "sentence_embedding"

PROBES = (
    "ok",
    "Hello world",
    "The quarterly settlement report was filed on time.",
    "Bonjour, je voudrais ouvrir un compte à la banque.",
    "Der Antrag wurde am Montag genehmigt.",
    "患者は短い入院の後に退院した。",
    "تمت الموافقة على الطلب",
    "naïve café, ünïcode ✓ 🙂",
    "",
    " ",
    ".",
    "1234 5678",
    # past the model's 256 word pieces: truncated, as the PyTorch runtime truncates
    " ".join(f"clause {i} of the retention schedule applies to archived records" for i in range(60)),
)

Progress = Callable[[int, int, str], None]  # (done, total, what): ``gateway.cli.common.ProgressBar`` fits


class SessionShare:
    """The sessions of one graph: the wide one for a pass that runs alone, a one-thread one for each pass running
    beside others (``narrow`` of them made now, more when more passes run at once). ``make(threads)`` builds an
    ``onnxruntime.InferenceSession`` of the verified bytes."""

    def __init__(self, make: Callable[[int], Any], threads: int, narrow: int) -> None:
        self._make = make
        self.threads = max(1, threads)
        self.wide = make(self.threads)
        self._free = [make(1) for _ in range(narrow)]
        self.narrow = list(self._free)  # every one-thread session made, free or not (for the agreement check)
        self._running = 0
        self._lock = threading.Lock()

    @contextmanager
    def session(self) -> Iterator[Any]:
        with self._lock:
            self._running += 1
            # Alone (nothing else in flight): the wide session is free. Beside others: a one-thread one.
            alone = self._running == 1
            chosen = self.wide if alone else (self._free.pop() if self._free else None)
        try:
            if chosen is None:  # more passes at once than sessions made so far: one more, kept for later
                chosen = self._make(1)
                with self._lock:
                    self.narrow.append(chosen)
            yield chosen
        finally:
            with self._lock:
                self._running -= 1
                if not alone and chosen is not None:
                    self._free.append(chosen)


@dataclass(frozen=True)
class OnnxGraph:
    """A loaded, verified graph: what runs the forward passes, and what the audit entries say of it."""

    sessions: SessionShare
    inputs: tuple[str, ...]
    sha256: str
    path: Path
    exported: bool  # exported at this load (False: the cache was reused)
    worst_cosine: float

    def describe(self) -> dict[str, Any]:
        """The runtime part of the model's audit description: never a path."""
        return {"kind": "onnx", "graph_sha256": self.sha256, "opset": OPSET}

    def run(self, features: dict[str, Any]) -> np.ndarray:
        """Sentence embeddings (batch x dimension, float32) for preprocessed features (torch tensors)."""
        with self.sessions.session() as session:
            return self.run_on(session, features)

    def run_on(self, session: Any, features: dict[str, Any]) -> np.ndarray:
        feed = {name: features[name].cpu().numpy() for name in self.inputs}
        return np.asarray(session.run([OUTPUT], feed)[0], dtype=np.float32)


def cache_key(spec: ModelSpec, weights_sha256: str) -> str:
    import torch

    material = json.dumps({"weights": weights_sha256, "opset": OPSET, "torch": torch.__version__, "format": FORMAT,
                           "max_seq_length": spec.max_seq_length}, sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def cache_dir(cache_root: Path, spec: ModelSpec, weights_sha256: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", f"{spec.name}@{spec.version}")
    return cache_root / f"{safe}-{cache_key(spec, weights_sha256)}"


def _input_names(model: Any) -> tuple[str, ...]:
    import torch

    example = model.preprocess(["a"])
    return tuple(k for k, v in example.items() if isinstance(v, torch.Tensor))


def export_graph(model: Any, scratch: Path) -> bytes:
    """The model (a sentence-transformers model on the CPU) as ONNX bytes: its modules end to end. ``scratch``: a
    file the exporter may write (in the owner-only cache directory), removed after."""
    import torch

    names = _input_names(model)
    # Padded, so that the attention mask's use is what is recorded.
    example = model.preprocess(["A lone short text.", "A longer one, so that the batch is padded and the mask "
                                "matters for the pooling."])

    class Graph(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *tensors: Any) -> Any:
            return self.inner(dict(zip(names, tensors, strict=True)))[OUTPUT]

    axes = {**{n: {0: "batch", 1: "sequence"} for n in names}, OUTPUT: {0: "batch"}}
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings on shape-dependent branches; the agreement check decides
        try:
            torch.onnx.export(Graph(model).eval(), tuple(example[n] for n in names), scratch,
                              input_names=list(names), output_names=[OUTPUT], dynamic_axes=axes, opset_version=OPSET,
                              dynamo=False)
            os.chmod(scratch, 0o600)
            return scratch.read_bytes()
        finally:
            scratch.unlink(missing_ok=True)


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """One exporter at a time per cache directory (replicas, or a test suite's gateways, starting together)."""
    for path in (directory.parent, directory):  # the cache root and the model's own directory: owner-only
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        if path.stat().st_uid != os.getuid():  # another user's graph would run as this gateway's model
            raise ConfigurationError(f"the ONNX cache directory {path} belongs to another user; set onnx_cache_dir "
                                     "to a directory of the gateway's own user")
        os.chmod(path, 0o700)
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


_ARENA_LOCK = threading.Lock()
_arena: list[bool] = []  # one process-wide arena registered (create_and_register_allocator may run once)


def _shared_arena() -> None:
    """One CPU memory arena for every session of this process. Each session's own arena keeps its peak for good:
    three sessions after passes up to 32 texts x 256 word pieces held 1,901 MB more than before, sharing one 845 MB,
    at the same CPU per text (2 cores, 2026-12-07)."""
    import onnxruntime as ort

    with _ARENA_LOCK:
        if not _arena:
            memory = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
            ort.create_and_register_allocator(memory, ort.OrtArenaCfg(0, -1, -1, -1))  # -1: ORT's defaults
            _arena.append(True)


def session_options(threads: int) -> Any:
    import onnxruntime as ort

    _shared_arena()
    options = ort.SessionOptions()
    options.add_session_config_entry("session.use_env_allocators", "1")
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Threads that wait for work sleep instead of spinning: the cores are shared with Presidio, the event loop and
    # the other embedding worker, which a spinning pool would take CPU from.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only: ORT's own warnings bypass the gateway's JSON log
    return options


def _manifest(spec: ModelSpec, weights_sha256: str, graph_sha256: str, inputs: tuple[str, ...]) -> dict[str, Any]:
    import torch

    return {"format": FORMAT, "model": spec.ref, "weights_sha256": weights_sha256, "opset": OPSET,
            "torch": torch.__version__, "inputs": list(inputs), "graph_sha256": graph_sha256}


def _cached(directory: Path, expected: dict[str, Any]) -> bytes | None:
    """The cached graph's bytes if the manifest describes this export and the graph is the one it names."""
    graph, manifest = directory / GRAPH_FILE, directory / MANIFEST_FILE
    if not graph.exists() and not manifest.exists():
        return None
    try:
        recorded = json.loads(manifest.read_text())
        data = graph.read_bytes()
        owned = all(p.stat().st_uid == os.getuid() and not p.stat().st_mode & 0o077 for p in (graph, manifest))
    except (OSError, ValueError):
        recorded, data, owned = None, b"", False
    wanted = {k: v for k, v in expected.items() if k != "graph_sha256"}
    if (not owned or not isinstance(recorded, dict) or recorded.get("graph_sha256") != hashlib.sha256(data).hexdigest()
            or {k: recorded.get(k) for k in wanted} != wanted):
        log.warning("the cached ONNX graph in %s does not match its manifest (changed, truncated or not owner-only); "
                    "exporting it again", VettedName(directory.name))
        return None
    return data


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    norms = np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    return np.asarray((a * b).sum(axis=1) / norms)


def agreement(model: Any, graph: OnnxGraph, texts: tuple[str, ...] = PROBES) -> float:
    """The worst cosine between the graph's and sentence-transformers' vectors: ``texts`` batched on every session
    made so far, and one by one on the wide one."""
    # One by one: PyTorch's vectors without padding are the reference; each probe then costs its own length only.
    reference = model.encode(list(texts), batch_size=1, convert_to_numpy=True, normalize_embeddings=True,
                             show_progress_bar=False)
    features = model.preprocess(list(texts))
    worst = min(float(_cosines(graph.run_on(s, features), reference).min())
                for s in (graph.sessions.wide, *graph.sessions.narrow))
    alone = np.vstack([graph.run_on(graph.sessions.wide, model.preprocess([t])) for t in texts])
    return min(worst, float(_cosines(alone, reference).min()))


def load_graph(model: Any, spec: ModelSpec, weights_sha256: str, cache_root: Path, threads: int,
               progress: Progress | None = None, narrow: int = 0) -> OnnxGraph:
    """The verified graph of ``model`` (whose weights hash to ``weights_sha256``): cached under ``cache_root`` (the
    ``onnx_cache_dir`` setting, by default ``<data_dir>/onnx``), else exported now. ``threads``: the wide session's;
    ``narrow``: one-thread sessions made now for passes that run at once (``SessionShare``)."""
    import onnxruntime as ort

    step = progress or (lambda done, total, what: None)
    directory = cache_dir(cache_root, spec, weights_sha256)
    inputs = _input_names(model)
    expected = _manifest(spec, weights_sha256, "", inputs)

    def make(data: bytes) -> SessionShare:
        return SessionShare(lambda t: ort.InferenceSession(data, session_options(t),
                                                           providers=["CPUExecutionProvider"]), threads, narrow)

    with _locked(directory):
        step(0, 3, "reading the cache")
        data = _cached(directory, expected)
        sessions = None
        if data is not None:
            try:
                sessions = make(data)
            except Exception:  # ORT's load errors have no common base class; a graph it cannot load is re-exported
                log.warning("the cached ONNX graph in %s does not load; exporting it again",
                            VettedName(directory.name))
        exported = sessions is None
        if sessions is None:
            step(1, 3, f"exporting {spec.ref} to ONNX (opset {OPSET})")
            started = time.monotonic()
            try:
                data = export_graph(model, directory / f".export.{os.getpid()}.onnx")
                sessions = make(data)
            except Exception as exc:  # the exporter's and ORT's errors share no base class; either way: no start
                raise ConfigurationError(f"model {spec.ref}: exporting it to ONNX failed ({type(exc).__name__}); "
                                         "set model_runtime = torch") from exc
            write_atomically(directory / GRAPH_FILE, data)
            write_atomically(directory / MANIFEST_FILE, json.dumps(
                _manifest(spec, weights_sha256, hashlib.sha256(data).hexdigest(), inputs), indent=1).encode())
            log.info("model %s exported to ONNX in %.1f s", VettedName(spec.ref), time.monotonic() - started)
    assert data is not None
    graph = OnnxGraph(sessions, inputs, hashlib.sha256(data).hexdigest(), directory / GRAPH_FILE, exported, 0.0)
    step(2, 3, "checking its vectors against PyTorch")
    worst = agreement(model, graph)
    if not worst >= MIN_COSINE:
        raise ConfigurationError(
            f"model {spec.ref}: the ONNX graph's vectors disagree with PyTorch's (worst cosine {worst:.6f} < "
            f"{MIN_COSINE}); refusing model_runtime = onnx (delete {directory} to export it again, or set "
            "model_runtime = torch)")
    step(3, 3, f"worst cosine {worst:.6f}")
    log.info("model %s runs on ONNX Runtime %s (%d threads alone, %d one-thread sessions); worst cosine against "
             "PyTorch %.6f", VettedName(spec.ref), VettedName(ort.__version__), sessions.threads, len(sessions.narrow),
             worst)
    return dataclasses.replace(graph, worst_cosine=worst)
