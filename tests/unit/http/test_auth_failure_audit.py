"""A refused API key: one answer for every cause, and an ``auth.failure`` entry that says which cause; a key that
exists makes the failure its tenant's, so that the tenant's auditors see a revoked key still in use or guesses at
a key's secret (before, only the platform auditor saw them)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.auth.apikeys import create_key
from gateway.http.app import create_app
from tests.unit.http.conftest import App, entry, fake_services
from tests.uvicornkit import serving_app

MODEL = "all-MiniLM-L6-v2"


def _refused(app: App, key: str) -> tuple[dict[str, Any], dict[str, Any]]:
    r = app.client.post("/v1/embeddings", json={"model": MODEL, "input": "x"}, headers=app.auth(key))
    assert r.status_code == 401
    return r.json(), entry(app, r)


def test_when_a_key_is_refused_then_the_answer_is_one_and_the_entry_names_the_cause_and_tenant(app: App) -> None:
    revoked = app.key("acme", "old-service", "writer")
    revoked_id = revoked.split("_")[1]
    assert app.services.apikeys.revoke(revoked_id, datetime.now(UTC).isoformat())
    live = app.key("acme", "service", "writer")
    wrong = live[:-1] + ("A" if live[-1] != "A" else "B")
    unknown = "gk_0123456789abcdef_" + "A" * 43
    bodies, entries = zip(*(_refused(app, k) for k in (revoked, wrong, unknown, "gk_nope")), strict=True)
    assert all(b == bodies[0] for b in bodies)  # the caller learns nothing about which key ids exist
    causes = [(e["event"], e.get("tenant"), e["reason"]) for e in entries]
    assert causes == [("auth.failure", "acme", "revoked"), ("auth.failure", "acme", "wrong secret"),
                      ("auth.failure", None, "unknown key"), ("auth.failure", None, "malformed key")]
    assert all(live[20:] not in json.dumps(e) and revoked[20:] not in json.dumps(e) for e in entries)  # no secret


def test_when_a_bearer_token_reaches_a_gateway_without_an_identity_provider_then_the_entry_says_so(app: App) -> None:
    # operator16: a replica without oidc_* settings audited an identity provider's token as "malformed key".
    token = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl"
    body, failure = _refused(app, token)
    assert body == _refused(app, "gk_nope")[0]  # the caller's answer stays the one of every refused key
    assert failure["reason"] == "token without identity provider"


@pytest.mark.parametrize(("tenant", "sees"), [("acme", True), ("globex", False)])
def test_when_a_revoked_key_is_used_then_its_tenants_auditor_sees_the_failure(app: App, tenant: str,
                                                                              sees: bool) -> None:
    revoked = app.key("acme", "old-service", "writer")
    assert app.services.apikeys.revoke(revoked.split("_")[1], datetime.now(UTC).isoformat())
    _, failure = _refused(app, revoked)
    size = app.services.audit_log.size()
    r = app.client.get("/v1/audit/entries", params={"start": 0, "end": size},
                       headers=app.auth(app.key(tenant, "olga", "auditor")))
    assert r.status_code == 200
    shown = [json.loads(base64.b64decode(e)) for e in r.json()["entries"] if e is not None]
    assert any(e.get("reason") == "revoked" and e["event"] == "auth.failure" for e in shown) is sees
    assert failure["tenant"] == "acme"



@pytest.mark.parametrize("extra", [
    [("Authorization", "Bearer {other}")],
    [("X-API-Key", "{other}")],
    [("X-API-Key", "{key}")],  # even when both name the same key: a request is one caller's
])
def test_when_a_request_carries_several_credentials_then_it_is_refused_and_audited(
    tmp_path: Path, extra: list[tuple[str, str]],
) -> None:
    # A proxy or a log may read the first header and the gateway another; before, the first Authorization won.
    # A real server: the test client joins repeated headers into one, uvicorn passes each on as sent.
    services = fake_services(tmp_path)
    key = create_key(services.apikeys, "acme", "service", "writer")[0]
    other = create_key(services.apikeys, "globex", "intruder", "writer")[0]
    headers = [("Authorization", f"Bearer {key}"), *((n, v.format(key=key, other=other)) for n, v in extra)]
    with serving_app(create_app(services)) as port:
        r = httpx.post(f"http://127.0.0.1:{port}/v1/embeddings", json={"model": MODEL, "input": "x"},
                       headers=headers, timeout=30)
        assert r.status_code == 401
        assert "one credential" in r.json()["error"]["message"]
        index = int(r.headers["X-Gateway-Audit-Index"])
        failure = json.loads(services.audit_log.entries(index, index + 1)[0])
    assert (failure["event"], failure["reason"]) == ("auth.failure", "several credentials")
    assert key[20:] not in json.dumps(failure) and other[20:] not in json.dumps(failure)


def test_when_one_credential_is_sent_by_either_header_then_it_is_accepted(app: App) -> None:
    key = app.key("acme", "service", "reader")
    for headers in ({"Authorization": f"Bearer {key}"}, {"X-API-Key": key}):
        assert app.client.get("/v1/models", headers=headers).status_code == 200


def test_when_a_key_made_before_the_lower_case_rule_is_used_then_it_is_refused_with_what_to_do_and_audited(
    app: App,
) -> None:
    # fixes18b: a key whose tenant is "ACME" (created before tenant ids were lower case) was served as tenant "ACME".
    from gateway.auth.apikeys import ApiKeyRecord

    live = app.key("acme", "service", "writer")
    record = app.services.apikeys.find(live.split("_")[1])
    assert record is not None
    legacy = ApiKeyRecord("00000000000000ac", "ACME", "service", "writer", record.digest, record.created_at, None)
    app.services.apikeys.insert(legacy)
    body, failure = _refused(app, f"gk_{legacy.key_id}_{live[len('gk_') + 16 + 1:]}")
    assert "re-issue" in json.dumps(body)
    assert (failure["event"], failure["reason"]) == ("auth.failure", "invalid tenant: re-issue the key")
    assert failure.get("tenant") is None and live[20:] not in json.dumps(failure)
    assert failure["key_id"] == legacy.key_id  # the operator finds the key to re-issue
