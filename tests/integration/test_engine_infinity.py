"""The engine client against a real engine none of us wrote: Infinity serving the packaged all-MiniLM-L6-v2 on
loopback (``engines`` fixture, once per session). Its vectors agree with the in-process model, its behavioural
fingerprint matches the in-process one, the same weights pooled another way do not, and a dead or hung engine is
a quick ``ModelUnavailable``."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest

from gateway.embedding.embedder import SentenceTransformerEmbedder
from gateway.embedding.engines import EngineClient, EngineSpec
from gateway.embedding.fingerprint import matches, probe
from gateway.embedding.specs import DEFAULT_MODEL
from gateway.errors import ModelUnavailable
from tests.infinitykit import Infinity
from tests.integration.conftest import Engines
from tests.recordingproxy import RecordingProxy

pytestmark = pytest.mark.slow  # the real model in process, two Infinity servers once per session

TEXTS = [
    "ok", "Hello world", "naïve café, ünïcode ✓", "The quick brown fox jumps over the lazy dog.",
    "SELECT * FROM t WHERE id = 1;", "Interest rates rose by a quarter of a point.", "word " * 400,  # truncated
    "Bonjour, je voudrais ouvrir un compte.", "1234 5678", "A patient was discharged after a short stay.",
]


@pytest.fixture
def local(engine_model: SentenceTransformerEmbedder) -> SentenceTransformerEmbedder:
    return engine_model  # the session's in-process model (tests/integration/conftest.py)


def _client(url: str, server: Infinity, timeout_s: float = 10.0, max_batch: int = 64) -> EngineClient:
    spec = EngineSpec(kind="openai", urls=(url,), model=server.model_id, timeout_s=timeout_s, max_batch=max_batch)
    return EngineClient(spec, DEFAULT_MODEL.dimension)


@pytest.fixture
def client(engines: Engines) -> Iterator[EngineClient]:
    engine = _client(engines.infinity.url, engines.infinity)
    yield engine
    engine.close()


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))


def test_when_infinity_embeds_in_several_calls_then_its_vectors_agree_with_the_in_process_model(
    engines: Engines, local: SentenceTransformerEmbedder,
) -> None:
    proxy = RecordingProxy(engines.infinity.url)
    engine = _client(proxy.url(), engines.infinity, max_batch=4)
    try:
        remote = engine.embed(TEXTS)
    finally:
        engine.close()
        proxy.close()
    assert [len(body["input"]) for body in proxy.bodies] == [4, 4, 2]  # max_batch splits the request
    assert proxy.sent_texts() == TEXTS
    assert remote.shape == (len(TEXTS), DEFAULT_MODEL.dimension) and remote.dtype == np.float32
    assert float(_cosines(remote, local.encode(TEXTS)).min()) >= 0.999


def test_when_infinity_serves_the_packaged_weights_then_its_fingerprint_matches_the_in_process_model(
    client: EngineClient, local: SentenceTransformerEmbedder,
) -> None:
    remote, inprocess = probe(client.embed), probe(local.encode)
    assert remote.startswith("probe:v1:")
    assert matches(inprocess, remote) and matches(remote, inprocess)


def test_when_infinity_pools_the_same_weights_by_cls_then_its_fingerprint_does_not_match(
    engines: Engines, client: EngineClient, local: SentenceTransformerEmbedder,
) -> None:
    swapped = _client(engines.infinity_cls.url, engines.infinity_cls)
    try:
        cls_print = probe(swapped.embed)
        cls_vectors = swapped.embed(TEXTS[:3])
    finally:
        swapped.close()
    assert not matches(probe(local.encode), cls_print)
    assert not matches(probe(client.embed), cls_print)
    # The swap is not a near miss the tolerance might one day admit: the vectors point elsewhere.
    assert float(_cosines(cls_vectors, local.encode(TEXTS[:3])).min()) < 0.99


def test_when_the_engine_behind_its_port_dies_then_the_client_fails_fast_with_model_unavailable(
    engines: Engines,
) -> None:
    # The proxy forwards to a port that nothing listens on any more: what a gateway sees of a killed engine.
    dead = RecordingProxy(engines.infinity.url)
    engine = _client(dead.url(), engines.infinity)
    try:
        assert engine.embed(["first"]).shape == (1, DEFAULT_MODEL.dimension)
        dead.close()
        started = time.monotonic()
        with pytest.raises(ModelUnavailable) as raised:
            engine.embed(["second"])
        elapsed = time.monotonic() - started
    finally:
        engine.close()
    assert elapsed < 0.5, f"a refused connection took {elapsed:.2f} s"
    assert raised.value.retry_after is not None and raised.value.retry_after >= 1
    assert "second" not in str(raised.value)


def test_when_infinity_hangs_then_the_client_gives_up_within_its_timeout(engines: Engines) -> None:
    engine = _client(engines.infinity.url, engines.infinity, timeout_s=1.0)
    engines.infinity.suspend()  # SIGSTOP: the port still accepts, nothing answers
    try:
        started = time.monotonic()
        with pytest.raises(ModelUnavailable):
            engine.embed(["nobody answers this"])
        elapsed = time.monotonic() - started
    finally:
        engines.infinity.resume()
        engine.close()
    assert elapsed < 1.5, f"a hung engine held the caller {elapsed:.2f} s past a 1 s timeout"
