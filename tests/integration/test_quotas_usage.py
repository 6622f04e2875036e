"""Quotas and usage through real HTTP on the session's real gateway (real model, real Presidio, real SQLite).

The module adds tenants with quotas to the running gateway's policy (hot reload) and takes them out again at
the end. Each limit has its own tenant, so the tests do not share counters: the key's and the tenant's tokens per
minute, tokens per day and requests per minute each give 429 with Retry-After, a body naming the limit, and a
``rate.limited`` entry. ``gateway usage`` is checked against the audit log's entries for the same requests, and
``GET /v1/usage`` shows a tenant only its own usage.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.auditkit import logged_entries
from tests.integration.server import GatewayProcess

pytestmark = pytest.mark.slow
MODEL = "all-MiniLM-L6-v2"
# 19 word pieces with the model's tokenizer: one request fits a limit of 30, two do not.
TEXT = "The quarterly report covers claims processed in the northern region during the winter months."
LIMIT = 30
QUOTA_TENANTS = f"""
  q-probe:
    quotas:
      key: {{requests_per_minute: 1}}
  q-key-tpm:
    quotas:
      key: {{tokens_per_minute: {LIMIT}}}
  q-key-tpd:
    quotas:
      key: {{tokens_per_day: {LIMIT}}}
  q-key-rpm:
    quotas:
      key: {{requests_per_minute: 2}}
  q-tenant-tpm:
    quotas:
      tenant: {{tokens_per_minute: {LIMIT}}}
  q-tenant-tpd:
    quotas:
      tenant: {{tokens_per_day: {LIMIT}}}
  q-tenant-rpm:
    quotas:
      tenant: {{requests_per_minute: 2}}
  q-ingest:
    quotas:
      key: {{tokens_per_day: {LIMIT}}}
"""


def embed(gw: GatewayProcess, key: str, texts: str | list[str] = TEXT) -> httpx.Response:
    return httpx.post(gw.url + "/v1/embeddings", json={"model": MODEL, "input": texts},
                      headers={"Authorization": f"Bearer {key}"}, timeout=120)


def get(gw: GatewayProcess, key: str, path: str) -> httpx.Response:
    return httpx.get(gw.url + path, headers={"Authorization": f"Bearer {key}"}, timeout=60)


@pytest.fixture(scope="module")
def gw(gateway: GatewayProcess) -> Iterator[GatewayProcess]:
    """The session's gateway with the quota tenants in its policy, once the reload has taken effect."""
    path = gateway.policy_dir / "gateway.yaml"
    shipped = path.read_text()
    path.write_text(shipped + QUOTA_TENANTS)  # appended under `tenants:`, the file's last section
    probe = gateway.make_key("q-probe", "probe", "reader")
    try:
        deadline = time.monotonic() + 30
        while get(gateway, probe, "/v1/models").status_code != 429:  # one request a minute: in force
            assert time.monotonic() < deadline, "the quota policy did not take effect"
            time.sleep(0.3)
        yield gateway
    finally:
        path.write_text(shipped)


def refused(gw: GatewayProcess, response: httpx.Response, limit: str, scope: str) -> dict[str, Any]:
    """The 429's header and body name the limit, and its audit entry records it; returns the entry."""
    assert response.status_code == 429, response.text
    assert int(response.headers["Retry-After"]) >= 1
    error = response.json()["error"]
    assert (error["code"], error["limit"], error["scope"]) == ("rate_limited", limit, scope)
    assert f"{limit} quota of the {scope}" in error["message"]
    entry = logged_entries(gw.data_dir)[int(response.headers["X-Gateway-Audit-Index"])]
    assert (entry["event"], entry["decision"], entry["status"], entry["code"]) == ("rate.limited", "deny", 429,
                                                                                  "rate_limited")
    assert entry["limit"]["name"] == limit and entry["limit"]["scope"] == scope
    assert TEXT not in json.dumps(entry)
    return entry


def first_fits(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    tokens = response.json()["usage"]["prompt_tokens"]
    assert LIMIT // 2 < tokens <= LIMIT  # one request fits the limit, two do not


def seconds_to_midnight() -> float:
    now = datetime.now(UTC)
    return (datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC) - now).total_seconds()


@pytest.mark.parametrize(("tenant", "limit"), [("q-key-tpm", "tokens_per_minute"), ("q-key-tpd", "tokens_per_day")])
def test_when_a_key_spends_its_tokens_then_429_names_the_key_limit_and_another_key_still_embeds(
    gw: GatewayProcess, tenant: str, limit: str
) -> None:
    key, other = gw.make_key(tenant, "svc-a", "writer"), gw.make_key(tenant, "svc-b", "writer")
    first_fits(embed(gw, key))
    second = embed(gw, key)
    entry = refused(gw, second, limit, "key")
    assert entry["limit"]["value"] == LIMIT
    wait = int(second.headers["Retry-After"])
    if limit == "tokens_per_minute":
        assert wait <= 60
    else:
        assert abs(wait - seconds_to_midnight()) < 30
    assert embed(gw, other).status_code == 200  # the limit is per key


@pytest.mark.parametrize(("tenant", "limit"), [("q-tenant-tpm", "tokens_per_minute"),
                                               ("q-tenant-tpd", "tokens_per_day")])
def test_when_a_tenants_keys_together_spend_its_tokens_then_429_names_the_tenant_limit(
    gw: GatewayProcess, tenant: str, limit: str
) -> None:
    key, other = gw.make_key(tenant, "svc-a", "writer"), gw.make_key(tenant, "svc-b", "writer")
    first_fits(embed(gw, key))
    refused(gw, embed(gw, other), limit, "tenant")  # a fresh key, but the tenant's tokens are spent


def test_when_a_key_sends_more_requests_per_minute_than_allowed_then_429_names_the_key_limit(
    gw: GatewayProcess,
) -> None:
    key, other = gw.make_key("q-key-rpm", "svc-a", "reader"), gw.make_key("q-key-rpm", "svc-b", "reader")
    assert [get(gw, key, "/v1/models").status_code for _ in range(2)] == [200, 200]
    response = get(gw, key, "/v1/models")
    refused(gw, response, "requests_per_minute", "key")
    assert int(response.headers["Retry-After"]) <= 30  # one request back every 30 s
    assert get(gw, other, "/v1/models").status_code == 200


def test_when_a_tenants_keys_together_send_too_many_requests_then_429_names_the_tenant_limit(
    gw: GatewayProcess,
) -> None:
    key, other = gw.make_key("q-tenant-rpm", "svc-a", "writer"), gw.make_key("q-tenant-rpm", "svc-b", "writer")
    assert embed(gw, key).status_code == 200
    assert get(gw, other, "/v1/models").status_code == 200
    refused(gw, embed(gw, other), "requests_per_minute", "tenant")


def test_when_gateway_usage_runs_then_its_counts_match_the_audit_logs_entries_for_the_same_requests(
    gw: GatewayProcess,
) -> None:
    alice, bob = gw.make_key("q-usage", "alice", "writer"), gw.make_key("q-usage", "bob", "writer")
    for _ in range(3):
        assert embed(gw, alice).status_code == 200
    assert embed(gw, bob, [TEXT, "Shipping delays were caused by the storm."]).status_code == 200
    assert embed(gw, bob, "My SSN is 078-05-1120.").status_code == 422  # refused: no tokens, no request counted
    today = datetime.now(UTC).date().isoformat()
    out = gw.cli("usage", "--tenant", "q-usage", "--since", today, "--format", "csv").stdout
    rows = {r["key_id"]: r for r in csv.DictReader(io.StringIO(out))}
    expected: dict[str, list[int]] = {}
    for entry in logged_entries(gw.data_dir):
        if entry.get("tenant") == "q-usage" and entry["event"] == "embeddings.create" and entry["decision"] == "allow":
            counts = expected.setdefault(str(entry["key_id"]), [0, 0])
            counts[0] += 1
            counts[1] += int(entry["tokens"])
    assert len(expected) == 2 and sum(c[0] for c in expected.values()) == 4
    assert {k: [int(r["requests"]), int(r["tokens"])] for k, r in rows.items()} == expected
    assert {r["model"] for r in rows.values()} == {MODEL} and {r["day"] for r in rows.values()} == {today}
    table = gw.cli("usage", "--tenant", "q-usage", "--since", today).stdout
    assert table.splitlines()[0].split() == ["day", "key_id", "model", "requests", "tokens"]
    assert table.splitlines()[-1].split() == ["total", "4", str(sum(c[1] for c in expected.values()))]


def test_when_usage_is_read_over_http_then_admins_and_auditors_see_only_their_own_tenant(gw: GatewayProcess) -> None:
    writer = gw.make_key("q-iso-a", "svc", "writer")
    foreign = gw.make_key("q-iso-b", "svc", "writer")
    assert embed(gw, writer).status_code == 200 and embed(gw, foreign).status_code == 200
    writer_id, foreign_id = writer.split("_")[1], foreign.split("_")[1]
    for role in ("admin", "auditor"):
        response = get(gw, gw.make_key("q-iso-a", f"the-{role}", role), "/v1/usage")
        assert response.status_code == 200, response.text
        page = response.json()
        results = [r for bucket in page["data"] for r in bucket["results"]]
        assert page["object"] == "page" and [r["api_key_id"] for r in results] == [writer_id]
        assert results[0]["num_model_requests"] == 1 and results[0]["input_tokens"] > 0
        assert foreign_id not in response.text
        entry = logged_entries(gw.data_dir)[int(response.headers["X-Gateway-Audit-Index"])]
        assert (entry["event"], entry["tenant"], entry["count"]) == ("usage.read", "q-iso-a", 1)
    other_auditor = gw.make_key("q-iso-b", "auditor", "auditor")
    assert writer_id not in get(gw, other_auditor, "/v1/usage").text
    for role in ("writer", "reader"):
        denied = get(gw, gw.make_key("q-iso-a", f"the-{role}", role), "/v1/usage")
        assert denied.status_code == 403
    tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    auditor = gw.make_key("q-iso-a", "late-auditor", "auditor")
    assert get(gw, auditor, f"/v1/usage?since={tomorrow}&until={tomorrow}").json()["data"] == []
    bad = get(gw, auditor, "/v1/usage?since=yesterday")
    assert bad.status_code == 400 and bad.json()["param"] == "since"


def test_when_ingest_spends_a_keys_tokens_then_the_next_ingest_is_refused_naming_the_limit(gw: GatewayProcess) -> None:
    key, admin = gw.make_key("q-ingest", "loader", "writer"), gw.make_key("q-ingest", "boss", "admin")
    auth = {"Authorization": f"Bearer {key}"}
    created = httpx.post(gw.url + "/v1/collections", json={"name": "notes", "model": MODEL}, headers=auth, timeout=60)
    assert created.status_code == 201, created.text
    first = httpx.post(gw.url + "/v1/collections/notes/documents", json={"documents": [{"id": "a", "text": TEXT}]},
                       headers=auth, timeout=120)
    assert first.status_code == 200, first.text
    second = httpx.post(gw.url + "/v1/collections/notes/documents", json={"documents": [{"id": "b", "text": TEXT}]},
                        headers=auth, timeout=120)
    assert second.status_code == 429 and int(second.headers["Retry-After"]) >= 1
    problem = second.json()
    assert (problem["code"], problem["limit"], problem["scope"]) == ("rate_limited", "tokens_per_day", "key")
    entry = logged_entries(gw.data_dir)[int(second.headers["X-Gateway-Audit-Index"])]
    assert (entry["event"], entry["limit"]["name"]) == ("rate.limited", "tokens_per_day")
    results = [r for b in get(gw, admin, "/v1/usage").json()["data"] for r in b["results"]]
    assert [(r["api_key_id"], r["num_model_requests"]) for r in results] == [(key.split("_")[1], 1)]
    assert LIMIT // 2 < results[0]["input_tokens"] <= LIMIT
