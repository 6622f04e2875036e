"""An unknown API key's id is the caller's own 16 hex digits, and 16 decimal digits are hex: the session 18 outside
attack sent ``gk_4111111111111111_...`` and found the card number as ``key_id`` in the signed, never-erased audit
log (API and console sign-in alike). Only the id of a key that exists (its refusal names its tenant) is kept."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.unit.http.conftest import App, entry

CARD_AS_KEY = "gk_4111111111111111_" + "A" * 43


def _audit_bytes(app: App) -> bytes:
    return b"".join(p.read_bytes() for p in app.root.rglob("audit.db*"))


def test_when_an_unknown_key_id_is_a_card_number_then_no_entry_carries_it(app: App) -> None:
    r = app.client.post("/v1/embeddings", json={"input": "x"}, headers=app.auth(CARD_AS_KEY))
    assert r.status_code == 401
    failure = entry(app, r)
    assert failure["reason"] == "unknown key" and "key_id" not in failure
    assert b"4111111111111111" not in _audit_bytes(app)


def test_when_the_console_sign_in_gets_a_card_number_key_then_no_entry_carries_it(app: App) -> None:
    r = app.client.post("/console/signin", content=f"api_key={CARD_AS_KEY}".encode(),
                        headers={"Content-Type": "application/x-www-form-urlencoded"}, follow_redirects=False)
    assert r.status_code == 401
    assert "key_id" not in entry(app, r)
    assert b"4111111111111111" not in _audit_bytes(app)


@pytest.mark.parametrize("how", ["wrong secret", "revoked"])
def test_when_a_key_that_exists_is_refused_then_its_entry_still_names_the_key(app: App, how: str) -> None:
    key = app.key("acme", "svc", "writer")
    key_id = key.split("_")[1]
    if how == "revoked":
        assert app.services.apikeys.revoke(key_id, datetime.now(UTC).isoformat())
    else:
        key = key[:-1] + ("A" if key[-1] != "A" else "B")
    r = app.client.post("/v1/embeddings", json={"input": "x"}, headers=app.auth(key))
    failure = entry(app, r)
    assert (failure["key_id"], failure["tenant"], failure["reason"]) == (key_id, "acme", how)
