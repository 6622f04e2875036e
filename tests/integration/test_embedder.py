"""The gateway's own forward path against sentence-transformers' ``encode``, on the real packaged model."""

import threading
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from gateway.embedding.embedder import SentenceTransformerEmbedder
from gateway.embedding.specs import DEFAULT_MODEL
from gateway.embedding.traced import eager_forward, traced_forward

TEXTS = [
    "", "a", "Hello world", "naïve café, ünïcode ✓", "word " * 400,  # empty, one letter, accents, truncated
    "The quick brown fox jumps over the lazy dog.", "SELECT * FROM t WHERE id = 1;",
]


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(DEFAULT_MODEL, "cpu", batch_size=3, cpu_threads=2)


def test_when_texts_of_mixed_lengths_are_encoded_then_vectors_match_sentence_transformers_in_input_order(
    embedder: SentenceTransformerEmbedder,
) -> None:
    texts = TEXTS * 3
    ours = embedder.encode(texts)
    theirs = embedder.model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    assert ours.shape == (len(texts), DEFAULT_MODEL.dimension) and ours.dtype == np.float32
    assert float(np.abs(ours - theirs).max()) < 1e-5
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_when_nothing_is_encoded_then_an_empty_matrix_comes_back(embedder: SentenceTransformerEmbedder) -> None:
    assert embedder.encode([]).shape == (0, DEFAULT_MODEL.dimension)


def test_when_token_counts_are_given_then_the_passes_follow_them_and_the_vectors_are_the_same(
    embedder: SentenceTransformerEmbedder,
) -> None:
    texts = TEXTS * 3
    counts = embedder.count_tokens(texts)
    assert float(np.abs(embedder.encode(texts, counts) - embedder.encode(texts)).max()) < 1e-6


def test_when_workers_count_and_encode_at_once_then_no_pass_sees_the_other_ones_tokenizer_settings(
    embedder: SentenceTransformerEmbedder,
) -> None:
    # Two embedding workers share one fast tokenizer: counting turns padding off, a pass turns it on. Unserialized,
    # a pass got a ragged batch ("Unable to create tensor"): 7 of 1,536 requests failed under load.
    texts = ["short", "a somewhat longer sentence than the first one", "mid length text here"]
    failures: list[BaseException] = []
    stop = threading.Event()

    def count() -> None:
        while not stop.is_set():
            try:
                embedder.count_tokens(texts * 8)
                embedder.offsets(texts[1])
            except BaseException as exc:  # recorded and asserted on below
                failures.append(exc)

    counter = threading.Thread(target=count)
    counter.start()
    try:
        for _ in range(60):
            embedder.encode(texts)
    finally:
        stop.set()
        counter.join()
    assert failures == []


def test_the_packaged_model_runs_its_transformer_traced(embedder: SentenceTransformerEmbedder) -> None:
    assert embedder.forward_mode == "traced"


def test_when_tracing_is_switched_off_then_the_eager_path_gives_the_same_vectors(
    embedder: SentenceTransformerEmbedder,
) -> None:
    eager = eager_forward(embedder.model)
    with torch.inference_mode():
        for texts in (TEXTS, TEXTS[2:3], TEXTS[4:6]):
            features = embedder.model.preprocess(texts)
            want = eager(dict(features))
            got = embedder._forward(dict(features))
            assert float((got - want).abs().max()) < 1e-5


def test_when_two_threads_run_the_traced_model_at_once_then_each_gets_its_own_texts_vectors(
    embedder: SentenceTransformerEmbedder,
) -> None:
    groups = [TEXTS[:4] * 3, TEXTS[3:] * 3]
    want = [embedder.encode(g) for g in groups]
    got: dict[int, list[np.ndarray]] = {0: [], 1: []}

    def work(k: int) -> None:
        for _ in range(15):
            got[k].append(embedder.encode(groups[k]))

    threads = [threading.Thread(target=work, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in (0, 1):
        assert len(got[k]) == 15
        assert max(float(np.abs(v - want[k]).max()) for v in got[k]) < 1e-5


class _Zeros(torch.nn.Module):
    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return torch.zeros(*tensors[0].shape, DEFAULT_MODEL.dimension)


def test_when_the_trace_disagrees_with_the_eager_model_then_it_is_not_used(
    embedder: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(torch.jit, "trace", lambda *a, **k: _Zeros())
    assert traced_forward(embedder.model, DEFAULT_MODEL.max_seq_length) is None
    assert "differs from the eager one" in caplog.text


def test_when_tracing_fails_then_the_model_runs_eagerly(
    embedder: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("not traceable")

    monkeypatch.setattr(torch.jit, "trace", fail)
    assert traced_forward(embedder.model, DEFAULT_MODEL.max_seq_length) is None
    assert "tracing the model's forward pass failed" in caplog.text


def test_when_the_first_module_is_not_a_text_transformer_then_nothing_is_traced() -> None:
    other = [SimpleNamespace(module_output_name="sentence_embedding", modality_config={})]
    assert traced_forward(other, DEFAULT_MODEL.max_seq_length) is None
