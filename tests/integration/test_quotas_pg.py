"""Quotas and usage on two real gateway replicas sharing one PostgreSQL database: a limit holds for the replicas'
requests together (counters in the database), and the usage both wrote is read as one."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.integration.server import GatewayProcess
from tests.unit.backends.postgres.pgkit import TempSchema

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
MODEL = "all-MiniLM-L6-v2"
TEXT = "The quarterly report covers claims processed in the northern region during the winter months."


@pytest.fixture(scope="module")
def replicas(replicas: tuple[GatewayProcess, GatewayProcess, TempSchema],
             ) -> tuple[GatewayProcess, GatewayProcess, TempSchema]:
    """The session's pair (``conftest.replicas``: this module's tenants, q-pg-*, are in its policy), started again
    if test_replicas, which stops it at its end, ran first."""
    for gw in replicas[:2]:
        if gw.proc is None:
            gw.start()
    return replicas


def embed(gw: GatewayProcess, key: str) -> httpx.Response:
    return httpx.post(gw.url + "/v1/embeddings", json={"model": MODEL, "input": TEXT},
                      headers={"Authorization": f"Bearer {key}"}, timeout=120)


def entry(schema: TempSchema, response: httpx.Response) -> dict[str, Any]:
    index = int(response.headers["X-Gateway-Audit-Index"])
    [(leaf,)] = schema.sql("SELECT leaf FROM audit_entries WHERE idx = %s", (index,))
    return dict(json.loads(bytes(leaf)))


def test_when_a_key_spends_its_tokens_on_one_replica_then_the_other_refuses_it(
    replicas: tuple[GatewayProcess, GatewayProcess, TempSchema],
) -> None:
    one, two, schema = replicas
    key = one.make_key("q-pg-tpm", "svc", "writer")
    first = embed(one, key)
    assert first.status_code == 200 and 15 < first.json()["usage"]["prompt_tokens"] <= 30
    refused = embed(two, key)  # within its own counters replica two would let it through
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
    error = refused.json()["error"]
    assert (error["limit"], error["scope"]) == ("tokens_per_minute", "key")
    logged = entry(schema, refused)
    assert (logged["event"], logged["limit"]["name"], logged["limit"]["scope"]) == ("rate.limited",
                                                                                    "tokens_per_minute", "key")


def test_when_a_tenants_requests_alternate_between_replicas_then_its_requests_per_minute_hold_in_total(
    replicas: tuple[GatewayProcess, GatewayProcess, TempSchema],
) -> None:
    one, two, _ = replicas
    key = one.make_key("q-pg-rpm", "svc", "writer")
    statuses = [embed(gw, key).status_code for gw in (one, two, one, two)]
    assert statuses == [200, 200, 200, 429]


def test_when_both_replicas_served_a_key_then_usage_sums_their_requests(
    replicas: tuple[GatewayProcess, GatewayProcess, TempSchema],
) -> None:
    one, two, _ = replicas
    key, auditor = one.make_key("q-pg-usage", "svc", "writer"), one.make_key("q-pg-usage", "aud", "auditor")
    tokens = sum(embed(gw, key).json()["usage"]["prompt_tokens"] for gw in (one, two, two))
    today = datetime.now(UTC).date().isoformat()
    rows = list(csv.DictReader(io.StringIO(one.cli("usage", "--tenant", "q-pg-usage", "--since", today,
                                                   "--format", "csv").stdout)))
    assert [(r["key_id"], int(r["requests"]), int(r["tokens"])) for r in rows] == [(key.split("_")[1], 3, tokens)]
    page = httpx.get(two.url + "/v1/usage", headers={"Authorization": f"Bearer {auditor}"}, timeout=60).json()
    [result] = [r for b in page["data"] for r in b["results"]]
    assert (result["num_model_requests"], result["input_tokens"]) == (3, tokens)
