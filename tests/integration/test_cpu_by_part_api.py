"""``gateway_cpu_seconds_total`` on the real gateway: embedding requests show as CPU of the event loop, the embedding
workers and the PII pool's worker processes, and the counters only grow."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.server import GatewayProcess

MODEL = "all-MiniLM-L6-v2"


def _parts(gateway: GatewayProcess) -> dict[str, float]:
    text = httpx.get(gateway.url + "/metrics", timeout=30).text
    return {s.labels["part"]: s.value for f in text_string_to_metric_families(text) if f.name == "gateway_cpu_seconds"
            for s in f.samples if s.name == "gateway_cpu_seconds_total"}


def test_when_texts_are_embedded_then_the_cpu_shows_by_part(gateway: GatewayProcess, globex_writer: str) -> None:
    before = _parts(gateway)
    texts = [f"Sentence {i} about the quarterly report, written by Ana Ruiz." for i in range(64)]
    for i in range(0, len(texts), 8):
        response = httpx.post(gateway.url + "/v1/embeddings", json={"model": MODEL, "input": texts[i : i + 8]},
                              headers={"Authorization": f"Bearer {globex_writer}"}, timeout=60)
        assert response.status_code == 200, response.text
    after = _parts(gateway)
    assert {"event-loop", "batcher-embed", "pii-workers"} <= set(after)
    assert all(after[part] >= seconds for part, seconds in before.items())  # counters: never down
    assert after["batcher-embed"] > before.get("batcher-embed", 0.0)  # the model ran on the embedding workers
    assert after["pii-workers"] > before.get("pii-workers", 0.0)  # the names were screened in the pool
    assert after["event-loop"] > before.get("event-loop", 0.0)
