"""Every limit answers with its own clear error, and adversarial inputs are answered in bounded time."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from gateway.errors import RateLimited
from gateway.limits.concurrency import KeyConcurrency
from tests.hardening.kit import Gateway, build_gateway

MODEL = "all-MiniLM-L6-v2"
BOUND_S = 5.0  # generous on 2 busy cores; each case takes milliseconds with the fakes


def _auth(gw: Gateway, role: str = "writer", tenant: str = "acme") -> dict[str, str]:
    return {"Authorization": f"Bearer {gw.key(tenant, role)}"}


@pytest.fixture
def small(tmp_path: Path) -> Any:
    app, gw = build_gateway(tmp_path, max_body_bytes=64 * 1024, max_inputs=8, max_text_chars=1000,
                            max_documents_per_ingest=4)
    with TestClient(app) as client:
        assert client.post("/v1/collections", json={"name": "docs"}, headers=_auth(gw)).status_code == 201
        yield client, gw


def test_when_the_body_is_over_the_limit_then_413_in_the_openai_shape(small: Any) -> None:
    client, gw = small
    r = client.post("/v1/embeddings", content=b'{"model": "x", "input": "' + b"a" * 70_000 + b'"}',
                    headers={**_auth(gw), "content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"
    assert "limit" in r.json()["error"]["message"]


def test_when_the_batch_is_over_the_limit_then_413_names_the_input_param(small: Any) -> None:
    client, gw = small
    r = client.post("/v1/embeddings", json={"model": MODEL, "input": ["a"] * 9}, headers=_auth(gw))
    assert r.status_code == 413 and r.json()["error"]["param"] == "input"


def test_when_a_text_is_over_the_limit_then_413_on_embed_and_ingest(small: Any) -> None:
    client, gw = small
    r = client.post("/v1/embeddings", json={"model": MODEL, "input": "a" * 1001}, headers=_auth(gw))
    assert r.status_code == 413
    r = client.post("/v1/collections/docs/documents", headers=_auth(gw),
                    json={"documents": [{"id": "d", "text": "a" * 1001}]})
    assert r.status_code == 413 and r.json()["param"] == "documents[0].text"
    assert r.headers["content-type"].startswith("application/problem+json")


def test_when_too_many_documents_are_ingested_at_once_then_413(small: Any) -> None:
    client, gw = small
    docs = [{"id": f"d{i}", "text": "hello"} for i in range(5)]
    r = client.post("/v1/collections/docs/documents", json={"documents": docs}, headers=_auth(gw))
    assert r.status_code == 413 and r.json()["param"] == "documents"


def test_when_a_key_has_too_many_requests_in_flight_then_429_with_retry_after(tmp_path: Path) -> None:
    app, gw = build_gateway(tmp_path, max_concurrent_per_key=1)
    key_id = gw.services.authenticate(gw.key("acme", "writer")).key_id
    with TestClient(app) as client:
        with gw.services.concurrency.slot(key_id, 1):
            r = client.get("/v1/collections", headers=_auth(gw))
            assert r.status_code == 429
            assert r.headers["retry-after"] == "1"
            assert "concurrent" in r.json()["detail"]
            # another key is not affected
            assert client.get("/v1/collections", headers=_auth(gw, "reader")).status_code == 200
        assert client.get("/v1/collections", headers=_auth(gw)).status_code == 200


def test_when_slots_are_released_then_the_key_is_forgotten() -> None:
    limiter = KeyConcurrency()
    with limiter.slot("k", 2), limiter.slot("k", 2):
        with pytest.raises(RateLimited), limiter.slot("k", 2):
            pass
        assert limiter.in_flight("k") == 2
    assert limiter.in_flight("k") == 0


def test_when_a_request_takes_longer_than_its_limit_then_504(tmp_path: Path) -> None:
    app, gw = build_gateway(tmp_path, request_timeout_s=0.2)
    slow_embed = gw.services.pipeline.run

    async def stall(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(2)
        return await slow_embed(*args, **kwargs)

    gw.services.pipeline.run = stall  # type: ignore[method-assign]
    with TestClient(app) as client:
        started = time.monotonic()
        r = client.post("/v1/embeddings", json={"model": MODEL, "input": "hi"}, headers=_auth(gw))
        assert r.status_code == 504 and r.json()["error"]["code"] == "timeout"
        assert r.headers["Retry-After"] == "1"  # as a 503 from a full queue: a retrying client waits
        assert time.monotonic() - started < 1.5
        assert gw.services.concurrency.in_flight(gw.services.authenticate(gw.key("acme", "writer")).key_id) == 0


ADVERSARIAL: dict[str, bytes] = {
    "deeply nested arrays": b'{"model": "m", "input": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    "deeply nested objects": b'{"model": "m", "input": ' + b'{"a":' * 20_000 + b"1" + b"}" * 20_000 + b"}",
    "huge unicode": json.dumps({"model": MODEL, "input": "\U0001F600\u200b\u0301" * 10_000}).encode(),
    "invalid utf-8": b'{"model": "m", "input": "\xff\xfe\xfd"}',
    "lone surrogate escape": b'{"model": "m", "input": "\\ud800"}',
    "many keys": b"{" + b",".join(b'"k%d": 1' % i for i in range(20_000)) + b"}",
    "long number": b'{"model": "m", "input": "x", "dimensions": ' + b"9" * 5000 + b"}",
    "nul bytes": b'{"model": "m", "input": "a\\u0000b"}',
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_when_adversarial_json_arrives_then_a_4xx_comes_back_quickly(
    tmp_path: Path, name: str
) -> None:
    app, gw = build_gateway(tmp_path, max_text_chars=100_000)
    with TestClient(app) as client:
        started = time.monotonic()
        r = client.post("/v1/embeddings", content=ADVERSARIAL[name],
                        headers={**_auth(gw), "content-type": "application/json"})
        elapsed = time.monotonic() - started
    assert r.status_code < 500, (r.status_code, r.text[:300])
    assert r.status_code == 200 or "error" in r.json()
    assert elapsed < BOUND_S
