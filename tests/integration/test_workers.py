"""``gateway serve`` with several worker processes on one port, sharing PostgreSQL.

Each worker process loads its own model and PII detector and writes the one shared audit log; requests spread
over them are all answered (with a privacy budget enforced, so each one reads the shared ledger first), and the
log they wrote together exports and verifies.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.integration.server import PII_IN_PROCESS, GatewayProcess, export_and_verify, wait_for_workers
from tests.unit.backends.postgres.pgkit import TempSchema

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_when_served_by_two_worker_processes_then_both_start_every_request_is_answered_and_the_log_verifies(
    tmp_path: Path,
) -> None:
    schema = TempSchema()
    gw = GatewayProcess(tmp_path / "gw",
                        env={**PII_IN_PROCESS, "GATEWAY_DATABASE_URL": schema.url, "GATEWAY_WORKERS": "2"})
    try:
        gw.prepare()
        policy = gw.policy_dir / "gateway.yaml"  # a privacy budget enforced (never reached): the shared ledger
        policy.write_text(policy.read_text().replace("epsilon: null", "epsilon: 1.0e+300", 1))  # is read per request
        assert gw.cli("db", "upgrade").returncode == 0
        writer = gw.make_key("acme", "bot", "writer")
        auditor = gw.make_key("platform", "aud", "platform-auditor")
        gw.start()
        wait_for_workers(gw, auditor, 2)  # the second worker may still be loading its model

        def embed(i: int) -> int:
            r = httpx.post(gw.url + "/v1/embeddings", headers={"Authorization": f"Bearer {writer}"},
                           json={"model": "all-MiniLM-L6-v2", "input": f"quarterly report number {i}"}, timeout=120)
            return r.status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(embed, range(40)))
        assert statuses == [200] * 40
        gw.stop()

        out, _ = export_and_verify(schema.url, gw.keys_dir / "audit_ed25519.pub", tmp_path)
        events = [json.loads(line)["event"] for line in out.read_text().splitlines()]
        assert events.count("embeddings.create") == 40 and events.count("gateway.start") == 2
        assert events.count("model.register") <= 1  # the workers started together; the change is audited once
    finally:
        gw.stop()
        schema.drop()
