"""A batch on two PostgreSQL replicas: the replica that runs it is killed (SIGKILL), the other takes it over.

Both replicas share one database (``server.pg_replicas`` on a schema of its own, with a 3 s job lease). The batch
is created through replica one; once part of it is durable, the replica whose runner holds its lease (found from
``lease_owner`` and the runner id each replica logs) gets SIGKILL. The other claims the job when the dead replica's
lease runs out and completes it: every custom_id is
answered exactly once, and the job was claimed more than once (resumed), never by two runners at a time.
"""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.server import PII_IN_PROCESS, GatewayProcess, pg_replicas
from tests.unit.backends.postgres.pgkit import TempSchema

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
MODEL = "all-MiniLM-L6-v2"
LINES = 240


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[GatewayProcess, GatewayProcess, TempSchema]]:
    schema = TempSchema(name=f"batches_{uuid.uuid4().hex[:12]}")  # not the clock's second: two runs may share it
    try:
        with pg_replicas(tmp_path, schema.url, env={**PII_IN_PROCESS, "GATEWAY_JOBS_LEASE_S": "3",
                                                 "GATEWAY_JOBS_POLL_S": "0.3"}) as gws:
            yield gws[0], gws[1], schema
    finally:
        schema.drop()


def test_when_the_replica_running_a_batch_dies_then_the_other_completes_it_exactly_once(
    pair: tuple[GatewayProcess, GatewayProcess, TempSchema],
) -> None:
    one, two, schema = pair
    key = one.make_key("acme", "batcher", "writer")
    auth = {"Authorization": f"Bearer {key}"}
    rows = [json.dumps({"custom_id": f"c{n}", "method": "POST", "url": "/v1/embeddings",
                        "body": {"model": MODEL, "input": f"line {n} about quarterly renewals"}}) for n in range(LINES)]
    up = httpx.post(one.url + "/v1/files", headers=auth, files={"file": ("in.jsonl", "\n".join(rows).encode())},
                    data={"purpose": "batch"}, timeout=60).json()
    batch = httpx.post(one.url + "/v1/batches", headers=auth, timeout=60, json={
        "input_file_id": up["id"], "endpoint": "/v1/embeddings", "completion_window": "24h"}).json()
    deadline = time.monotonic() + 300
    while httpx.get(f"{two.url}/v1/batches/{batch['id']}", headers=auth, timeout=60).json()[
            "request_counts"]["completed"] < LINES // 4:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    [(runner,)] = schema.sql("SELECT lease_owner FROM jobs WHERE id = %s", (batch["id"],))
    holder, survivor = (one, two) if runner in one.log_path.read_text() else (two, one)
    assert runner in holder.log_path.read_text()
    assert holder.proc is not None
    holder.proc.send_signal(signal.SIGKILL)
    holder.proc.wait(10)
    holder.proc = None
    while (done := httpx.get(f"{survivor.url}/v1/batches/{batch['id']}", headers=auth, timeout=60).json())[
            "status"] != "completed":
        assert time.monotonic() < deadline, done
        time.sleep(0.3)
    assert done["request_counts"] == {"total": LINES, "completed": LINES, "failed": 0}
    out = httpx.get(f"{survivor.url}/v1/files/{done['output_file_id']}/content", headers=auth, timeout=60).text
    assert sorted(json.loads(x)["custom_id"] for x in out.splitlines()) == sorted(f"c{n}" for n in range(LINES))
    [(attempts, owner)] = schema.sql("SELECT attempts, lease_owner FROM jobs WHERE id = %s", (batch["id"],))
    assert attempts >= 2 and owner is None  # resumed by the survivor; a final job holds no lease
