"""A batch's ``metadata`` is shown to every reader of the tenant (attack17): an empty key, and keys or values with a
bidi override or a zero-width character, were stored and shown as sent, where a document's metadata refuses them."""

from __future__ import annotations

import json

import pytest

from tests.unit.http.conftest import App


def create(app: App, metadata: dict[str, str]) -> tuple[int, dict[str, object]]:
    writer = app.auth(app.key("acme", "alice", "writer"))
    line = json.dumps({"custom_id": "a", "method": "POST", "url": "/v1/embeddings",
                       "body": {"model": "all-MiniLM-L6-v2", "input": "x"}})
    up = app.client.post("/v1/files", files={"file": ("in.jsonl", line.encode())}, data={"purpose": "batch"},
                         headers=writer)
    r = app.client.post("/v1/batches", json={"input_file_id": up.json()["id"], "endpoint": "/v1/embeddings",
                                             "completion_window": "24h", "metadata": metadata}, headers=writer)
    return r.status_code, r.json()


@pytest.mark.parametrize("metadata", [{"": "x"}, {"  ": "x"}, {"owner\u202e": "x"}, {"a\u200bb": "x"},
                                      {"k\x00": "x"}, {"k": "nightly\u202erun"}, {"k": "a\u2066b"}])
def test_when_metadata_is_blank_or_holds_invisible_formatting_then_400_naming_metadata(
    app: App, metadata: dict[str, str],
) -> None:
    status, body = create(app, metadata)
    assert status == 400, body
    assert body["error"]["param"] == "metadata"  # type: ignore[index]


def test_when_metadata_is_plain_text_in_any_script_then_it_is_kept(app: App) -> None:
    metadata = {"job name": "nightly run", "d\u00e9p\u00f4t": "\u65e5\u672c\nline two"}
    status, body = create(app, metadata)
    assert status == 200 and body["metadata"] == metadata, body
