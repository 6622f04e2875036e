"""model_runtime = onnx on the real packaged model and real ONNX Runtime: agreement with PyTorch, the export cache
(reused, re-exported for changed weights, a tampered or corrupt graph not used) and the gateway serving over HTTP.

The graph is exported once for the session (``exported``); tests that damage a cache work on a copy of it."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from gateway.embedding.embedder import SentenceTransformerEmbedder
from gateway.embedding.onnx_runtime import (
    GRAPH_FILE,
    MANIFEST_FILE,
    MIN_COSINE,
    PROBES,
    OnnxGraph,
    cache_dir,
    load_graph,
)
from gateway.embedding.specs import DEFAULT_MODEL, model_dir
from gateway.errors import ConfigurationError
from tests.integration.server import BIN, PII_IN_PROCESS, REPO, GatewayProcess

pytestmark = pytest.mark.slow
SHA = DEFAULT_MODEL.fingerprint
MORE = ["The committee approved the revised retention schedule.", "Wie spät ist es?", "¿Dónde está la estación?",
        "数据保护条例适用于所有部门。", "\t\n", "-", "a " * 300, "SELECT * FROM t WHERE id = 1;"]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))


@pytest.fixture(scope="session")
def torch_model() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(DEFAULT_MODEL, "cpu", cpu_threads=1, traced=False)


@pytest.fixture(scope="session")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's cache root (what ``onnx_cache_dir`` names; ``<data_dir>/onnx`` by default)."""
    return tmp_path_factory.mktemp("onnx-cache") / "onnx"


@pytest.fixture(scope="session")
def exported(torch_model: SentenceTransformerEmbedder, cache: Path) -> OnnxGraph:
    return load_graph(torch_model.model, DEFAULT_MODEL, SHA, cache, threads=1)


@pytest.fixture
def cache_copy(exported: OnnxGraph, cache: Path, tmp_path: Path) -> Path:
    """A copy of the session's cache root, as ``<tmp_path>/onnx``: the default root of a data dir ``tmp_path``."""
    shutil.copytree(cache, tmp_path / "onnx")
    return tmp_path / "onnx"


def manifest(directory: Path) -> dict[str, Any]:
    return dict(json.loads((directory / MANIFEST_FILE).read_text()))


def test_when_exported_then_vectors_agree_with_pytorch_to_0_9999_batched_and_alone(
    torch_model: SentenceTransformerEmbedder, exported: OnnxGraph
) -> None:
    texts = [*PROBES, *MORE]
    model = torch_model.model
    reference = model.encode(texts, batch_size=1, normalize_embeddings=True, show_progress_bar=False)
    batched = exported.run(model.preprocess(texts))
    alone = np.vstack([exported.run(model.preprocess([t])) for t in texts])
    assert exported.exported and exported.worst_cosine >= MIN_COSINE
    assert cosines(batched, reference).min() >= MIN_COSINE and cosines(alone, reference).min() >= MIN_COSINE
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)  # normalized in the graph, as by the model


def test_when_the_embedder_runs_on_onnx_then_it_reuses_the_cache_and_encodes_as_pytorch_does(
    torch_model: SentenceTransformerEmbedder, exported: OnnxGraph, cache: Path
) -> None:
    before = exported.path.stat().st_mtime_ns
    onnx = SentenceTransformerEmbedder(DEFAULT_MODEL, "cpu", batch_size=4, cpu_threads=1, runtime="onnx",
                                       onnx_cache=cache)
    assert onnx.onnx_graph is not None and not onnx.onnx_graph.exported
    assert onnx.onnx_graph.sha256 == exported.sha256 and exported.path.stat().st_mtime_ns == before
    assert onnx.describe_runtime() == {"kind": "onnx", "graph_sha256": exported.sha256, "opset": 17}
    texts = [*MORE, *PROBES]
    ours = onnx.encode(texts)
    assert ours.dtype == np.float32 and ours.shape == (len(texts), DEFAULT_MODEL.dimension)
    assert cosines(ours, torch_model.encode(texts)).min() >= MIN_COSINE
    assert onnx.count_tokens(texts) == torch_model.count_tokens(texts)  # the same tokenizer


def test_when_cached_then_the_files_are_owner_only_and_the_manifest_names_the_source_weights(
    exported: OnnxGraph, cache: Path
) -> None:
    directory = exported.path.parent
    assert directory == cache_dir(cache, DEFAULT_MODEL, SHA)
    for path in (directory.parent, directory):
        assert path.stat().st_mode & 0o777 == 0o700
    for name in (GRAPH_FILE, MANIFEST_FILE):
        assert (directory / name).stat().st_mode & 0o777 == 0o600
    recorded = manifest(directory)
    assert recorded["weights_sha256"] == SHA and recorded["opset"] == 17
    assert recorded["graph_sha256"] == hashlib.sha256(exported.path.read_bytes()).hexdigest() == exported.sha256


def test_when_passes_run_at_once_then_each_runs_on_a_checked_session_of_its_own_and_agrees(
    torch_model: SentenceTransformerEmbedder, exported: OnnxGraph, cache: Path
) -> None:
    graph = load_graph(torch_model.model, DEFAULT_MODEL, SHA, cache, threads=2, narrow=2)
    assert not graph.exported and graph.worst_cosine >= MIN_COSINE  # checked on the wide and both narrow ones
    assert len({id(s) for s in (graph.sessions.wide, *graph.sessions.narrow)}) == 3
    texts = [*MORE, *PROBES]
    features = torch_model.model.preprocess(texts)
    alone = graph.run(features)
    results: list[np.ndarray] = []
    start = threading.Barrier(3)

    def run() -> None:
        start.wait()
        results.extend(graph.run(features) for _ in range(3))

    workers = [threading.Thread(target=run) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(results) == 9 and all(cosines(r, alone).min() >= MIN_COSINE for r in results)
    assert len(graph.sessions.narrow) >= 2


def test_when_two_loaders_share_a_fresh_cache_root_then_one_exports_and_the_other_reads_its_graph(
    torch_model: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    """The shared cache (``onnx_cache_dir``) of gateways starting together: the lock makes the second wait."""
    root = tmp_path / "shared"
    graphs: list[OnnxGraph] = []
    errors: list[BaseException] = []

    def load() -> None:
        try:
            graphs.append(load_graph(torch_model.model, DEFAULT_MODEL, SHA, root, threads=1))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    loaders = [threading.Thread(target=load) for _ in range(2)]
    for t in loaders:
        t.start()
    for t in loaders:
        t.join()
    assert errors == [] and sorted(g.exported for g in graphs) == [False, True]
    assert graphs[0].sha256 == graphs[1].sha256 == manifest(cache_dir(root, DEFAULT_MODEL, SHA))["graph_sha256"]


@pytest.fixture(scope="session")
def changed_weights(tmp_path_factory: pytest.TempPathFactory) -> SentenceTransformerEmbedder:
    """A copy of the packaged model whose first encoder layer's weights were scaled: new weights, new sha256."""
    from safetensors.numpy import load_file, save_file

    root = tmp_path_factory.mktemp("changed-model")
    weights = root / "model"
    shutil.copytree(model_dir(DEFAULT_MODEL), weights)
    tensors = load_file(weights / "model.safetensors")
    name = next(k for k in sorted(tensors) if "layer.0.attention.self.query.weight" in k)
    tensors[name] = tensors[name] * np.float32(3.0)
    save_file(tensors, weights / "model.safetensors")
    sha = hashlib.sha256((weights / "model.safetensors").read_bytes()).hexdigest()
    spec = dataclasses.replace(DEFAULT_MODEL, weights_dir=str(weights), fingerprint=sha)
    return SentenceTransformerEmbedder(spec, "cpu", cpu_threads=1, traced=False)


def test_when_the_weights_change_then_the_graph_is_exported_again_from_them(
    changed_weights: SentenceTransformerEmbedder, exported: OnnxGraph, cache: Path
) -> None:
    spec = changed_weights.spec
    graph = load_graph(changed_weights.model, spec, changed_weights.fingerprint, cache, threads=1)
    assert graph.exported and graph.path.parent != exported.path.parent and graph.sha256 != exported.sha256
    assert manifest(graph.path.parent)["weights_sha256"] == changed_weights.fingerprint != SHA
    features = changed_weights.model.preprocess(list(PROBES))
    assert cosines(graph.run(features), exported.run(features)).min() < MIN_COSINE  # the new weights' vectors


def test_when_the_cached_graph_is_altered_then_it_is_not_used_and_is_exported_again(
    torch_model: SentenceTransformerEmbedder, exported: OnnxGraph, cache_copy: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    graph_file = cache_dir(cache_copy, DEFAULT_MODEL, SHA) / GRAPH_FILE
    data = bytearray(graph_file.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte of a weight
    graph_file.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="gateway.embedding.onnx_runtime"):
        graph = load_graph(torch_model.model, DEFAULT_MODEL, SHA, cache_copy, threads=1)
    assert graph.exported and "does not match its manifest" in caplog.text
    assert manifest(graph_file.parent)["graph_sha256"] == hashlib.sha256(graph_file.read_bytes()).hexdigest()
    assert graph.worst_cosine >= MIN_COSINE


def test_when_a_corrupt_graph_comes_with_a_matching_manifest_then_it_is_exported_again(
    torch_model: SentenceTransformerEmbedder, exported: OnnxGraph, cache_copy: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    directory = cache_dir(cache_copy, DEFAULT_MODEL, SHA)
    truncated = (directory / GRAPH_FILE).read_bytes()[:4096]
    (directory / GRAPH_FILE).write_bytes(truncated)
    recorded = {**manifest(directory), "graph_sha256": hashlib.sha256(truncated).hexdigest()}
    (directory / MANIFEST_FILE).write_text(json.dumps(recorded))
    with caplog.at_level(logging.WARNING, logger="gateway.embedding.onnx_runtime"):
        graph = load_graph(torch_model.model, DEFAULT_MODEL, SHA, cache_copy, threads=1)
    assert graph.exported and "does not load" in caplog.text


def test_when_another_graph_is_planted_with_a_forged_manifest_then_the_start_is_refused(
    torch_model: SentenceTransformerEmbedder, changed_weights: SentenceTransformerEmbedder,
    exported: OnnxGraph, cache: Path, cache_copy: Path,
) -> None:
    """A graph that loads and matches its manifest but computes other vectors: only the agreement check sees it."""
    planted = load_graph(changed_weights.model, changed_weights.spec, changed_weights.fingerprint, cache, threads=1)
    directory = cache_dir(cache_copy, DEFAULT_MODEL, SHA)
    shutil.copyfile(planted.path, directory / GRAPH_FILE)
    (directory / MANIFEST_FILE).write_text(json.dumps({**manifest(directory), "graph_sha256": planted.sha256}))
    with pytest.raises(ConfigurationError, match="disagree with PyTorch"):
        load_graph(torch_model.model, DEFAULT_MODEL, SHA, cache_copy, threads=1)


def test_when_export_onnx_runs_on_a_data_dir_with_the_graph_then_it_reports_it_cached_with_progress(
    exported: OnnxGraph, cache_copy: Path
) -> None:
    env = {**os.environ, "GATEWAY_DATA_DIR": str(cache_copy.parent), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([str(BIN / "gateway"), "models", "export-onnx"], env=env, cwd=REPO, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert " cached " in out.stdout and f"sha256 {exported.sha256}" in out.stdout
    assert "checking its vectors against PyTorch" in out.stderr and "3/3" in out.stderr  # the progress bar


@pytest.fixture(scope="module")
def onnx_gateway(exported: OnnxGraph, cache: Path, tmp_path_factory: pytest.TempPathFactory,
                 ) -> Iterator[GatewayProcess]:
    """A real gateway on model_runtime = onnx, pointed at the session's cache root (``onnx_cache_dir``), which
    holds the graph exported above."""
    root = tmp_path_factory.mktemp("onnx-gateway")
    proc = GatewayProcess(root, env={**PII_IN_PROCESS, "GATEWAY_MODEL_RUNTIME": "onnx",
                                     "GATEWAY_ONNX_CACHE_DIR": str(cache)})
    proc.prepare()
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def test_when_the_gateway_runs_on_onnx_then_it_serves_embeddings_and_audits_the_graph(
    onnx_gateway: GatewayProcess, exported: OnnxGraph
) -> None:
    key = onnx_gateway.make_key("acme", "alice", "writer")
    auth = {"Authorization": f"Bearer {key}"}
    r = httpx.post(onnx_gateway.url + "/v1/embeddings", headers=auth, timeout=60,
                   json={"model": DEFAULT_MODEL.name, "input": ["Bonjour le monde", "The report was filed."],
                         "encoding_format": "float"})
    assert r.status_code == 200, r.text
    vectors = np.array([d["embedding"] for d in r.json()["data"]])
    assert vectors.shape == (2, DEFAULT_MODEL.dimension) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    runtime = {"kind": "onnx", "graph_sha256": exported.sha256, "opset": 17}
    with sqlite3.connect(onnx_gateway.data_dir / "audit.db") as conn:
        rows = conn.execute("SELECT leaf FROM entries ORDER BY idx").fetchall()
    entry = json.loads(rows[int(r.headers["X-Gateway-Audit-Index"])][0])
    assert entry["event"] == "embeddings.create" and entry["model"]["runtime"] == runtime
    assert entry["model"]["fingerprint"] == SHA  # the source weights, verified before the graph was
    listed = httpx.get(onnx_gateway.url + f"/v1/models/{DEFAULT_MODEL.name}", headers=auth, timeout=30).json()
    assert listed["runtime"] == runtime
    assert "exported to ONNX" not in onnx_gateway.log_path.read_text()  # the shared cache was used
    assert not (onnx_gateway.data_dir / "onnx").exists()
