"""Numbers read from a caller: ASCII digits only (attack17). ``str.isdigit`` also takes '²' (then ``int`` raises,
a 503 'internal error' on the routes) and U+0661 (Arabic-Indic one, read as 1: a second spelling of a number)."""

from __future__ import annotations

import base64

import pytest

from audit.checkpoint import parse_checkpoint
from audit.errors import CheckpointError
from audit.merkle import HASH_SIZE
from audit.witness import parse_request
from gateway.drift.projection import parse_windows
from gateway.errors import BadRequest
from tests.unit.http.conftest import App, entry

NOT_ASCII = ["\u00b2", "\u0661", "\u0663", "\uff15"]  # superscript two, Arabic-Indic one and three, fullwidth 5


@pytest.mark.parametrize("raw", NOT_ASCII)
@pytest.mark.parametrize("path", ["/v1/files", "/v1/batches"])
def test_when_a_list_limit_is_a_unicode_digit_then_400_naming_limit_not_503(app: App, path: str, raw: str) -> None:
    writer = app.auth(app.key("acme", "alice", "writer"))
    r = app.client.get(path, params={"limit": raw}, headers=writer)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == "limit"
    assert entry(app, r)["event"] == "request.invalid"


@pytest.mark.parametrize("raw", NOT_ASCII)
def test_when_the_drift_limit_is_a_unicode_digit_then_400_not_503(app: App, raw: str) -> None:
    writer = app.auth(app.key("acme", "alice", "writer"))
    assert app.client.post("/v1/collections", json={"name": "kb"}, headers=writer).status_code == 201
    r = app.client.get("/v1/collections/kb/drift", params={"limit": raw}, headers=writer)
    assert r.status_code == 400, r.text
    assert r.json()["param"] == "limit"


@pytest.mark.parametrize("raw", ["\u00b2", "\u0666", "\uff16"])
def test_when_projection_windows_is_a_unicode_digit_then_bad_request(raw: str) -> None:
    with pytest.raises(BadRequest):
        parse_windows(raw)


@pytest.mark.parametrize("size", ["\u00b2", "\u0661\u0662", "\uff17"])
def test_when_a_checkpoint_size_is_written_in_unicode_digits_then_it_is_malformed(size: str) -> None:
    root = base64.b64encode(bytes(HASH_SIZE)).decode()
    with pytest.raises(CheckpointError, match="malformed"):
        parse_checkpoint(f"origin\n{size}\n{root}\n\n\u2014 a AAAAAAAA\n")


@pytest.mark.parametrize("size", ["\u00b2", "\u0661"])
def test_when_a_witness_request_names_its_old_size_in_unicode_digits_then_it_is_refused(size: str) -> None:
    with pytest.raises(ValueError, match="decimal"):
        parse_request(f"old {size}\n\nnote\n".encode())
