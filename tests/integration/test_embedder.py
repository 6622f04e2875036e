"""The gateway's own forward path against sentence-transformers' ``encode``, on the real packaged model."""

import threading

import numpy as np
import pytest

from gateway.embedder import SentenceTransformerEmbedder
from gateway.models import DEFAULT_MODEL

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
