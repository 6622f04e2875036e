"""The governed path in process, with fakes: every outcome is audited and rendered in the right shape."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.http.conftest import App, entry

MODEL = "all-MiniLM-L6-v2"


def test_when_a_writer_embeds_then_vectors_return_and_the_entry_records_the_decision(app: App) -> None:
    key = app.key("acme", "alice", "writer")
    r = app.client.post("/v1/embeddings", json={"model": MODEL, "input": ["hello world", "Bob said hi"]},
                        headers=app.auth(key))
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["data"]) == 2 and len(body["data"][0]["embedding"]) == 384
    assert r.headers["X-Gateway-PII"] == "PERSON=1;redact"
    e = entry(app, r)
    assert (e["event"], e["decision"], e["tenant"], e["subject"], e["count"]) == (
        "embeddings.create", "allow", "acme", "alice", 2)
    assert "hello" not in json.dumps(e) and "Bob" not in json.dumps(e)


def test_when_redacted_then_the_model_sees_the_placeholder_not_the_name(app: App) -> None:
    key = app.key("acme", "alice", "writer")
    r1 = app.client.post("/v1/embeddings", json={"model": MODEL, "input": "Bob paid", "encoding_format": "float"},
                         headers=app.auth(key))
    r2 = app.client.post("/v1/embeddings", json={"model": MODEL, "input": "Alice paid", "encoding_format": "float"},
                         headers=app.auth(key))
    # Both names become <PERSON>: same text embedded, same content digest, same keyed noise.
    assert r1.json()["data"][0]["embedding"] == r2.json()["data"][0]["embedding"]


def test_when_an_ssn_is_sent_then_422_and_nothing_is_embedded(app: App) -> None:
    key = app.key("acme", "alice", "writer")
    embedder = app.services.embedder
    before = list(embedder.calls)  # type: ignore[attr-defined]
    r = app.client.post("/v1/embeddings", json={"model": MODEL, "input": ["ok", "ssn 078-05-1120"]},
                        headers=app.auth(key))
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "pii_blocked" and "US_SSN" in r.json()["error"]["message"]
    assert embedder.calls == before  # type: ignore[attr-defined]
    assert entry(app, r)["decision"] == "block"
    # The refusal says what was found, as an embedding would (the use case raises it with its header).
    assert r.headers["X-Gateway-PII"] == "US_SSN=1;block"
    assert (entry(app, r)["event"], entry(app, r)["pii"]) == ("embeddings.create", {"US_SSN": {"count": 1,
                                                                                               "action": "block"}})


@pytest.mark.parametrize(("role", "status", "event"), [("auditor", 403, "authz.denied"), ("reader", 200, None)])
def test_when_roles_embed_then_casbin_decides(app: App, role: str, status: int, event: str | None) -> None:
    r = app.client.post("/v1/embeddings", json={"model": MODEL, "input": "x y"},
                        headers=app.auth(app.key("acme", "u", role)))
    assert r.status_code == status
    if event:
        assert entry(app, r)["event"] == event


def test_when_no_key_then_401_in_openai_shape_and_audited(app: App) -> None:
    r = app.client.post("/v1/embeddings", json={"model": MODEL, "input": "x"})
    assert r.status_code == 401
    assert set(r.json()["error"]) == {"message", "type", "param", "code"}
    assert entry(app, r)["event"] == "auth.failure"


def test_when_the_audit_log_cannot_be_written_then_the_request_fails_closed(app: App) -> None:
    key = app.key("acme", "alice", "writer")

    class Broken:
        def submit(self, entry: Any) -> Any:
            raise OSError("disk full")

    app.services.auditor._sink = Broken()  # type: ignore[assignment]
    r = app.client.post("/v1/embeddings", json={"model": MODEL, "input": "x"}, headers=app.auth(key))
    assert r.status_code == 503
    assert "data" not in r.json()


def test_when_an_unknown_route_is_called_then_problem_details(app: App) -> None:
    r = app.client.get("/v1/nothing-here")
    assert r.status_code == 404
    assert r.json()["type"].startswith("urn:gateway:error:")


def test_when_health_is_probed_then_ready(app: App) -> None:
    assert app.client.get("/healthz").json() == {"status": "ok"}
    ready = app.client.get("/readyz")
    assert ready.status_code == 200 and all(ready.json()["checks"].values())


def test_when_the_policy_file_changes_then_the_reload_or_its_refusal_is_audited(app: App) -> None:
    import os
    import time

    path = app.root / "policy" / "gateway.yaml"
    good = path.read_text()

    def write(text: str, bump: float) -> None:
        path.write_text(text)
        later = time.time() + bump
        os.utime(path, (later, later))

    def last() -> dict[str, Any]:
        size = app.services.audit_log.size()
        return dict(json.loads(app.services.audit_log.entries(size - 1, size)[0]))

    write(good.replace("sigma: 0.01", "sigma: 0.02"), 5)
    app.services._reload_policies()
    assert (last()["event"], last()["decision"]) == ("policy.reload", "allow")
    write("defaults: [broken", 10)
    app.services._reload_policies()
    assert (last()["event"], last()["decision"]) == ("policy.reload", "deny")
    assert app.services.scope("acme").noise_sigma == 0.02  # the good policy stays in force


def test_when_a_client_lists_models_then_the_served_model_is_there_in_openai_shape(app: App) -> None:
    key = app.key("acme", "alice", "reader")
    listing = app.client.get("/v1/models", headers=app.auth(key))
    assert listing.status_code == 200
    assert [m["id"] for m in listing.json()["data"]] == ["all-MiniLM-L6-v2"]
    one = app.client.get("/v1/models/all-MiniLM-L6-v2", headers=app.auth(key)).json()
    assert (one["object"], one["dimension"]) == ("model", 384)
    missing = app.client.get("/v1/models/text-embedding-3-small", headers=app.auth(key))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"
    assert app.client.get("/v1/models", headers=app.auth(app.key("acme", "carol", "auditor"))).status_code == 403


def test_when_the_model_names_its_version_then_only_the_served_version_answers(app: App) -> None:
    key = app.key("acme", "alice", "writer")

    def embed(model: str) -> Any:
        return app.client.post("/v1/embeddings", json={"model": model, "input": "quarterly report"},
                               headers=app.auth(key))

    assert embed("all-MiniLM-L6-v2@1.0.0").status_code == 200
    other = embed("all-MiniLM-L6-v2@9.9.9")
    assert other.status_code == 404 and other.json()["error"]["code"] == "model_not_found"
    assert "9.9.9" not in other.text  # the caller's string is not echoed
