"""What the PII tests over HTTP share: one ``/v1/pii/analyze`` call, and the names a result redacted."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.server import GatewayProcess


def analyze(gw: GatewayProcess, key: str, text: str, collection: str | None = None) -> dict[str, Any]:
    """The one result of ``/v1/pii/analyze`` for ``text`` (the request must succeed)."""
    body: dict[str, Any] = {"text": text}
    if collection is not None:
        body["collection"] = collection
    r = httpx.post(gw.url + "/v1/pii/analyze", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=120)
    assert r.status_code == 200, r.text
    return dict(r.json()["results"][0])


def person_spans(result: dict[str, Any], text: str) -> list[str]:
    """The parts of ``text`` that ``result`` found as a PERSON and applied its action to."""
    return [text[f["start"] : f["end"]] for f in result["findings"]
            if f["entity_type"] == "PERSON" and f["outcome"] == "applied"]  # fmt: skip


def assert_name_redacted(gw: GatewayProcess, key: str, text: str, name: str, model: str) -> None:
    """``name`` is redacted in ``text``: found by ``/v1/pii/analyze``, and named in the embeddings' PII header."""
    result = analyze(gw, key, text)
    assert any(name in span for span in person_spans(result, text)) and result["action"] == "redact", result
    r = httpx.post(gw.url + "/v1/embeddings", json={"model": model, "input": text},
                   headers={"Authorization": f"Bearer {key}"}, timeout=120)  # fmt: skip
    assert r.status_code == 200 and "PERSON=" in r.headers["X-Gateway-PII"], r.headers
