"""A day's quota survives a restart of the embedded gateway (real model, real SQLite): issue 22, F1.

The embedded default counts quotas in the process's memory; the day counters are seeded from the durable usage
table the first time a tenant's day is counted, so stopping the gateway (SIGTERM, or SIGKILL: no shutdown code
runs) does not hand a key a fresh day's tokens.
"""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from tests.integration.server import PII_IN_PROCESS, GatewayProcess

pytestmark = pytest.mark.slow
MODEL = "all-MiniLM-L6-v2"
# 17 word pieces with the model's tokenizer: one request fits a limit of 30, two do not.
TEXT = "The quarterly report covers claims processed in the northern region during the winter months."
TENANTS = """
  r-key-tpd:
    quotas:
      key: {tokens_per_day: 30}
  r-tenant-tpd:
    quotas:
      tenant: {tokens_per_day: 30}
"""


def embed(gw: GatewayProcess, key: str) -> httpx.Response:
    return httpx.post(gw.url + "/v1/embeddings", json={"model": MODEL, "input": TEXT},
                      headers={"Authorization": f"Bearer {key}"}, timeout=120)


def spent(gw: GatewayProcess, auditor: str) -> int:
    """The tokens the tenant of ``auditor`` (an auditor's key) embedded, by ``GET /v1/usage``."""
    got = httpx.get(gw.url + "/v1/usage", headers={"Authorization": f"Bearer {auditor}"}, timeout=60)
    assert got.status_code == 200, got.text
    return sum(int(r["input_tokens"]) for bucket in got.json()["data"] for r in bucket["results"])


def test_when_the_gateway_restarts_even_killed_then_a_spent_daily_quota_stays_spent(tmp_path: Path) -> None:
    gw = GatewayProcess(tmp_path / "gw", env=dict(PII_IN_PROCESS))  # a free port, kept across the restarts
    gw.prepare()
    path = gw.policy_dir / "gateway.yaml"
    path.write_text(path.read_text() + TENANTS)  # appended under `tenants:`, the file's last section
    by_key = gw.make_key("r-key-tpd", "svc", "writer")
    by_tenant = (gw.make_key("r-tenant-tpd", "svc-a", "writer"), gw.make_key("r-tenant-tpd", "svc-b", "writer"))
    auditors = (gw.make_key("r-key-tpd", "aud", "auditor"), gw.make_key("r-tenant-tpd", "aud", "auditor"))
    gw.start()
    try:
        first = [embed(gw, by_key), embed(gw, by_tenant[0])]
        assert [r.status_code for r in first] == [200, 200]
        tokens = [int(r.json()["usage"]["prompt_tokens"]) for r in first]
        assert embed(gw, by_key).status_code == 429  # twice the text's tokens > 30: spent in this process
        for sig in (signal.SIGTERM, signal.SIGKILL):
            gw.stop(sig)
            gw.start()
            refused = embed(gw, by_key)
            assert refused.status_code == 429, (sig, refused.text)
            assert refused.json()["error"]["param"] == "tokens_per_day"
            assert int(refused.headers["Retry-After"]) > 0
            # The tenant's counter too, for another key of the tenant than the one that spent it.
            other = embed(gw, by_tenant[1])
            assert other.status_code == 429 and "tenant" in other.json()["error"]["message"], other.text
        assert [spent(gw, a) for a in auditors] == tokens  # nothing more was embedded across the restarts
    finally:
        gw.stop()
