"""The remote-engine client (against a fake transport): batches, retries, failover, circuit breaker, validation,
and errors that name no text and no credential. The real engine (Infinity) is in the integration tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pytest

from gateway.embedding.engines import BREAKER_FAILURES, EngineClient, EngineSpec
from gateway.embedding.fingerprint import PROBES, matches, probe
from gateway.errors import ModelUnavailable, UpstreamError
from gateway.settings import Secret

DIM = 4


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _ok(texts: list[str]) -> httpx.Response:
    data = [{"object": "embedding", "index": i, "embedding": [float(len(t)), 1.0, 0.0, float(i)]}
            for i, t in enumerate(texts)]
    return httpx.Response(200, json={"object": "list", "data": list(reversed(data))})


def _client(handler: Callable[[httpx.Request], httpx.Response], clock: Clock | None = None,
            **spec: Any) -> EngineClient:
    clock = clock or Clock()
    fields: dict[str, Any] = {"kind": "openai", "urls": ("http://engine-a:8080/v1",), "model": "bge-small",
                              "max_batch": 3, **spec}
    return EngineClient(EngineSpec(**fields), DIM, httpx.MockTransport(handler), clock, clock.sleep)


def test_when_texts_exceed_max_batch_then_calls_are_split_and_vectors_come_back_in_order() -> None:
    calls: list[list[str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert body["model"] == "bge-small" and request.url.path == "/v1/embeddings"
        calls.append(body["input"])
        return _ok(body["input"])

    texts = [f"text {'x' * i}" for i in range(7)]
    vectors = _client(handler).embed(texts)
    assert [len(c) for c in calls] == [3, 3, 1]
    assert vectors.shape == (7, DIM) and vectors.dtype == np.float32
    assert list(vectors[:, 0]) == [float(len(t)) for t in texts]


def test_when_the_engine_answers_429_then_it_is_retried_within_the_deadline() -> None:
    answers = iter([httpx.Response(429, headers={"retry-after": "0.5"}), httpx.Response(503)])

    def handler(request: httpx.Request) -> httpx.Response:
        return next(answers, None) or _ok(json.loads(request.content)["input"])

    clock = Clock()
    assert _client(handler, clock).embed(["a"], deadline_s=10).shape == (1, DIM)
    assert 0.5 <= clock.now < 2


def test_when_the_engine_is_down_then_model_unavailable_with_retry_after_and_the_circuit_opens() -> None:
    attempts = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal attempts
        attempts += 1
        raise httpx.ConnectError("refused", request=request)

    client = _client(handler)
    for _ in range(BREAKER_FAILURES):
        with pytest.raises(ModelUnavailable) as info:
            client.embed(["a"], deadline_s=0.05)
        assert info.value.retry_after is not None and info.value.retry_after >= 1
    seen = attempts
    with pytest.raises(ModelUnavailable):
        client.embed(["a"])
    assert attempts == seen  # open: no call at all
    assert client.breakers["http://engine-a:8080/v1"].state == "open"


def test_when_the_engine_refuses_connections_then_it_fails_at_once_instead_of_backing_off_to_the_deadline() -> None:
    # Regression: a refused port was retried with backoff until the deadline; a dead engine held each request 10 s
    # (measured against a killed Infinity). Now: ModelUnavailable at once (or the next URL's answer).
    attempts = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal attempts
        attempts += 1
        raise httpx.ConnectError("refused", request=request)

    clock = Clock()
    with pytest.raises(ModelUnavailable):
        _client(handler, clock).embed(["a"], deadline_s=10)
    assert attempts == 1 and clock.now == 0.0


def test_when_the_first_url_is_down_then_the_second_serves() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "engine-a":
            raise httpx.ConnectTimeout("timeout", request=request)
        return _ok(json.loads(request.content)["input"])

    client = _client(handler, urls=("http://engine-a:8080/v1", "http://engine-b:8080/v1"))
    assert client.embed(["a", "b"], deadline_s=0.05).shape == (2, DIM)


@pytest.mark.parametrize(("response", "match"), [
    (httpx.Response(400, json={"error": {"message": "input 'John Smith 536-90-4721' too long"}}), "HTTP 400"),
    (httpx.Response(200, json={"data": [{"index": 0, "embedding": [1.0, 2.0]}]}), "2 dimensions"),
    (httpx.Response(200, text='{"data": [{"index": 0, "embedding": [1.0, NaN, 0.0, 0.0]}]}'), "non-finite"),
    (httpx.Response(200, json={"data": []}), "0 vectors"),
    (httpx.Response(200, text="<html>gateway</html>"), "not an embeddings list"),
])
def test_when_the_engine_answers_badly_then_upstream_error_without_its_words(
    response: httpx.Response, match: str
) -> None:
    with pytest.raises(UpstreamError, match=match) as info:
        _client(lambda request: response).embed(["John Smith 536-90-4721"])
    assert "536" not in str(info.value) and "John" not in str(info.value)


def test_when_the_engine_is_azure_openai_then_the_deployment_url_and_api_key_header_are_used() -> None:
    seen: dict[str, Any] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.update(url=str(request.url), key=request.headers.get("api-key"), auth=request.headers.get("authorization"))
        return _ok(json.loads(request.content)["input"])

    client = _client(handler, kind="azure_openai", urls=("https://res.openai.azure.com",), model="embed-prod",
                     api_key=Secret("azure-secret"))
    client.embed(["a"])
    assert seen["url"] == "https://res.openai.azure.com/openai/deployments/embed-prod/embeddings?api-version=2024-10-21"
    assert seen["key"] == "azure-secret" and seen["auth"] is None
    assert "azure-secret" not in repr(client.spec)


def test_when_an_engine_url_carries_credentials_then_the_audited_host_does_not() -> None:
    spec = EngineSpec("openai", ("https://user:pw@tei.internal:8443/v1",), "m")
    assert spec.hosts() == ("tei.internal:8443",)


def test_when_the_same_model_is_probed_twice_with_float_noise_then_the_fingerprints_match() -> None:
    rng = np.random.default_rng(7)
    base = rng.normal(size=(len(PROBES), 384))
    first = probe(lambda texts: base)
    noisy = probe(lambda texts: base + rng.normal(scale=1e-4, size=base.shape))
    other = probe(lambda texts: rng.normal(size=(len(PROBES), 384)))
    assert matches(first, noisy) and not matches(first, other)
    assert not matches(first, "sha256:abc") and not matches(first, "probe:v1:!!!")


def test_when_the_engine_answers_429_to_everything_then_503_within_its_timeout_not_the_request_deadline() -> None:
    """Regression: a 429/503 storm was retried until the request's deadline (59 s with ``timeout_s: 5``), each
    request holding one of the model's engine calls; the retries now stop after the engine's ``timeout_s``."""
    attempts = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal attempts
        attempts += 1
        return httpx.Response(429, headers={"retry-after": "1"})

    clock = Clock()
    with pytest.raises(ModelUnavailable) as info:
        _client(handler, clock, timeout_s=5.0).embed(["a"], deadline_s=60)
    assert clock.now <= 5.0 and attempts >= 3  # retried, but within the retry budget
    assert info.value.retry_after is not None and info.value.retry_after >= 1


def test_when_the_first_url_is_busy_past_its_budget_then_the_second_still_gets_a_try() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "engine-a":
            return httpx.Response(503)
        return _ok(json.loads(request.content)["input"])

    clock = Clock()
    client = _client(handler, clock, timeout_s=3.0, urls=("http://engine-a:8080/v1", "http://engine-b:8080/v1"))
    assert client.embed(["a"], deadline_s=60).shape == (1, DIM)
    assert clock.now <= 3.0
