"""Inputs a new user sends by mistake, and what they get back: a clear error naming the field, or a clear signal."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.http.conftest import App, entry

MODEL = "all-MiniLM-L6-v2"
INVISIBLE = ["\u200b\u200c\u200d\ufeff", "\x00\x01\x02", " \u200b \t\u2060 "]


@pytest.fixture
def writer(app: App) -> dict[str, str]:
    return app.auth(app.key("acme", "alice", "writer"))


@pytest.mark.parametrize("text", INVISIBLE)
def test_when_an_input_is_only_invisible_or_control_characters_then_400_naming_it(
    app: App, writer: dict[str, str], text: str,
) -> None:
    r = app.client.post("/v1/embeddings", json={"model": MODEL, "input": ["fine", text]}, headers=writer)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["param"] == "input[1]" and "empty" in error["message"]
    assert entry(app, r)["event"] == "request.invalid"


@pytest.mark.parametrize("text", INVISIBLE)
def test_when_a_document_or_query_is_only_invisible_characters_then_400_naming_it(
    app: App, writer: dict[str, str], text: str,
) -> None:
    assert app.client.post("/v1/collections", json={"name": "kb"}, headers=writer).status_code == 201
    docs = [{"id": "ok", "text": "a fine text"}, {"id": "bad", "text": text}]
    r = app.client.post("/v1/collections/kb/documents", json={"documents": docs}, headers=writer)
    assert r.status_code == 400 and r.json()["param"] == "documents[1].text", r.text
    s = app.client.post("/v1/collections/kb/search", json={"query": text}, headers=writer)
    assert s.status_code == 400 and s.json()["param"] == "query", s.text
    assert app.client.get("/v1/collections/kb/documents/ok", headers=writer).status_code == 404  # nothing stored


def test_when_a_list_mixes_text_and_numbers_then_the_message_names_the_item_not_token_arrays(
    app: App, writer: dict[str, str],
) -> None:
    r = app.client.post("/v1/embeddings", json={"model": MODEL, "input": ["a", 1]}, headers=writer)
    assert r.status_code == 400
    message = r.json()["error"]["message"]
    assert "input[1] is not a string" in message and "token" not in message


@pytest.mark.parametrize("tokens", [[1, 2, 3], [[1, 2], [3]]])
def test_when_token_ids_are_sent_then_the_message_says_to_send_text(
    app: App, writer: dict[str, str], tokens: list[Any],
) -> None:
    r = app.client.post("/v1/embeddings", json={"model": MODEL, "input": tokens}, headers=writer)
    assert r.status_code == 400 and "token arrays are not accepted" in r.json()["error"]["message"]


def test_when_no_key_is_sent_then_401_says_so(app: App) -> None:
    r = app.client.post("/v1/embeddings", json={"model": MODEL, "input": "hi"})
    assert r.status_code == 401 and "no API key was sent" in r.json()["error"]["message"]
    assert entry(app, r)["event"] == "auth.failure"
    wrong = app.client.post("/v1/embeddings", json={"model": MODEL, "input": "hi"}, headers=app.auth("gk_nope"))
    assert wrong.status_code == 401 and "no API key was sent" not in wrong.json()["error"]["message"]


@pytest.mark.parametrize("header", ["gk_0123456789abcdef_secret", "Basic dXNlcjpwdw==", "Token gk_x"])
def test_when_the_authorization_header_lacks_the_bearer_scheme_then_401_says_how_to_write_it(
    app: App, header: str,
) -> None:
    # Regression: "Authorization: gk_..." (the key without "Bearer ") was answered "no API key was sent".
    r = app.client.post("/v1/embeddings", json={"model": MODEL, "input": "hi"}, headers={"Authorization": header})
    message = r.json()["error"]["message"]
    assert r.status_code == 401 and "must read 'Bearer <key>'" in message and "secret" not in message
    assert entry(app, r)["event"] == "auth.failure"


def test_when_an_input_is_longer_than_the_model_reads_then_the_response_and_the_entry_say_how_many(
    app: App, writer: dict[str, str],
) -> None:
    long_text = " ".join(["word"] * 300)  # the fake tokenizer counts words + 2; the model reads 256
    r = app.client.post("/v1/embeddings", json={"model": MODEL, "input": ["short", long_text, long_text]},
                        headers=writer)
    assert r.status_code == 200 and r.headers["X-Gateway-Truncated"] == "2"
    assert entry(app, r)["truncated"] == 2
    short = app.client.post("/v1/embeddings", json={"model": MODEL, "input": "short"}, headers=writer)
    assert "X-Gateway-Truncated" not in short.headers and "truncated" not in entry(app, short)


def test_when_a_route_is_unknown_or_the_method_wrong_then_the_error_has_a_request_id_and_405_says_allow(
    app: App, writer: dict[str, str],
) -> None:
    missing = app.client.get("/v1/nothing-here", headers={"X-Request-Id": "client-chosen"})
    assert missing.status_code == 404
    assert len(missing.headers["X-Request-Id"]) == 32 and missing.headers["X-Request-Id"] != "client-chosen"
    assert missing.json()["request_id"] == missing.headers["X-Request-Id"]
    wrong = app.client.get("/v1/embeddings", headers=writer)
    assert wrong.status_code == 405 and "POST" in wrong.headers["Allow"]
    assert len(wrong.headers["X-Request-Id"]) == 32


@pytest.mark.parametrize(("body", "says"), [
    (b'{"model": "m", "input": [' + b"9" * 5000 + b"]}", "holds a number out of range"),
    (b'{"model": "m", "input": ["a"], "dimensions": 1e999}', "holds a number out of range"),
    (b'{"model": "m", "input": NaN}', "not valid JSON (at byte 24; NaN and Infinity are not JSON)"),
    (b'\xef\xbb\xbf{"model": "m", "input": "a"}', "starts with a byte order mark"),
    (b'{"model": "m", "input": "caf\xe9"}', "is not valid UTF-8"),
    (b'{"model": "m", "input": ["536-90-4721", }', "not valid JSON (at byte 40)"),
    (b'{"model": "m", "input": ["536-90-4721"', "not valid JSON (it ends too early)"),
])
def test_when_the_body_is_not_json_then_the_400_says_why_and_where_but_never_what_it_held(
    app: App, writer: dict[str, str], body: bytes, says: str,
) -> None:
    r = app.client.post("/v1/embeddings", content=body, headers={**writer, "Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    message = r.json()["error"]["message"]
    assert says in message and "536" not in r.text and "caf" not in r.text
    assert entry(app, r)["event"] == "request.invalid"
