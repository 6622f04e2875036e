"""Privacy accounting and budgets through the HTTP layer (fakes for model and detector)."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from gateway.privacy.ledger_base import epsilon_worst_case
from tests.unit.http.conftest import App, entry

MODEL = "all-MiniLM-L6-v2"


def set_tenant_policy(app: App, block: str) -> None:
    path = app.root / "policy" / "gateway.yaml"
    text = path.read_text().replace("tenants:\n", "tenants:\n" + block, 1)
    path.write_text(text)
    later = time.time() + 5
    os.utime(path, (later, later))
    assert app.services.policy.reload_if_changed()


def embed(app: App, key: str, texts: list[str]) -> Any:
    return app.client.post("/v1/embeddings", json={"model": MODEL, "input": texts, "encoding_format": "float"},
                           headers=app.auth(key))


def test_when_vectors_are_released_then_the_ledger_matches_opacus_and_repeats_are_free(app: App) -> None:
    writer, auditor = app.key("acme", "w", "writer"), app.key("acme", "a", "auditor")
    assert embed(app, writer, ["one fact", "two facts"]).status_code == 200
    r = embed(app, writer, ["one fact", "two facts", "three facts"])
    assert entry(app, r)["privacy"]["releases_new"] == 1
    ledger = app.client.get("/v1/privacy/ledger", headers=app.auth(auditor))
    assert ledger.status_code == 200
    view = ledger.json()
    assert view["scopes"]["embeddings"]["releases"] == 3
    assert view["total"]["epsilon_worst_case"] == epsilon_worst_case(0.01, 3)
    assert app.client.get("/v1/privacy/ledger", headers=app.auth(writer)).status_code == 403


def test_when_averaging_many_responses_then_nothing_is_gained(app: App) -> None:
    writer = app.key("acme", "w", "writer")
    vectors = [np.array(embed(app, writer, ["the same text"]).json()["data"][0]["embedding"]) for _ in range(5)]
    assert all(np.array_equal(vectors[0], v) for v in vectors)
    assert np.allclose(np.mean(vectors, axis=0), vectors[0])


def test_when_the_budget_would_be_exceeded_then_block_is_refused_and_audited(app: App) -> None:
    budget = epsilon_worst_case(0.01, 3) * 1.01  # room for three releases, not four
    set_tenant_policy(app, f"  acme:\n    privacy_budget: {{epsilon: {budget}, on_exceed: block}}\n")
    writer = app.key("acme", "w", "writer")
    assert embed(app, writer, ["a b", "c d", "e f"]).status_code == 200
    assert embed(app, writer, ["a b"]).status_code == 200  # a repeat costs nothing
    r = embed(app, writer, ["g h"])
    assert r.status_code == 403 and r.json()["error"]["code"] == "privacy_budget_exceeded"
    e = entry(app, r)
    assert (e["event"], e["decision"]) == ("privacy.budget_exceeded", "block")


def test_when_the_budget_says_raise_sigma_then_more_noise_is_used_and_audited(app: App) -> None:
    budget = epsilon_worst_case(0.01, 3) * 1.01
    set_tenant_policy(app, f"  acme:\n    privacy_budget: {{epsilon: {budget}, on_exceed: raise_sigma}}\n")
    writer = app.key("acme", "w", "writer")
    assert embed(app, writer, ["a b", "c d", "e f"]).status_code == 200
    r = embed(app, writer, ["g h"])
    assert r.status_code == 200
    e = entry(app, r)
    assert e["noise_sigma"] > 0.01 and e["privacy"]["sigma_raised_from"] == 0.01
