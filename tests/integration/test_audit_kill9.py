"""Durability of receipts: kill -9 the real gateway under load; every acknowledged request is in the log.

A response carries ``X-Gateway-Audit-Index`` only after its entry is committed (group commit, fsync), so
after SIGKILL and a restart each acknowledged index must hold that request's entry (matched by
``X-Request-Id``), and the exported log must verify against its signed checkpoint.
"""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import httpx
import pytest

from tests.integration.server import BIN, PII_IN_PROCESS, GatewayProcess, kill_mid_load

pytestmark = pytest.mark.slow
MODEL = "all-MiniLM-L6-v2"
THREADS = 4
MIN_ACKED = 40
MIN_ALLOWED = 8  # embeddings are slower than denials: wait until some of each are acknowledged
LOAD_TIMEOUT_S = 30.0


class Load:
    """Client threads that keep sending until the gateway dies, recording every acknowledged receipt."""

    def __init__(self, url: str, keys: list[str]) -> None:
        self.url = url
        self.keys = keys
        self.acked: list[tuple[int, str, int]] = []  # (audit index, request id, status)
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def worker(self, n: int) -> None:
        key = self.keys[n % len(self.keys)]
        with httpx.Client(timeout=30) as client:
            i = 0
            while not self.stop.is_set():
                try:
                    r = client.post(self.url + "/v1/embeddings", headers={"Authorization": f"Bearer {key}"},
                                    json={"model": MODEL, "input": f"worker {n} request {i} about policy renewals"})
                except httpx.HTTPError:
                    return  # the gateway is gone: nothing more can be acknowledged
                if "X-Gateway-Audit-Index" in r.headers:
                    with self.lock:
                        self.acked.append((int(r.headers["X-Gateway-Audit-Index"]), r.headers["X-Request-Id"],
                                           r.status_code))
                i += 1

    def enough(self) -> bool:
        with self.lock:
            allowed = sum(1 for _, _, status in self.acked if status == 200)
            return len(self.acked) >= MIN_ACKED and allowed >= MIN_ALLOWED


def audit_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "gateway-audit"), *args], capture_output=True, text=True, timeout=120, check=False)


def test_when_the_gateway_is_killed_mid_load_then_every_acknowledged_receipt_survives_and_the_log_verifies(
    tmp_path: Path,
) -> None:
    gw = GatewayProcess(tmp_path / "gw", env=dict(PII_IN_PROCESS))
    gw.prepare()
    gw.data_dir.mkdir(parents=True, exist_ok=True)  # `gateway apikey create` before the first start needs it
    # A writer's requests are allowed; an auditor's are denied: both kinds of receipt must survive.
    keys = [gw.make_key("acme", "alice", "writer"), gw.make_key("acme", "olga", "auditor")]
    gw.start()
    try:
        load = Load(gw.url, keys)
        threads = [threading.Thread(target=load.worker, args=(n,), daemon=True) for n in range(THREADS)]
        kill_mid_load(gw, threads, load.enough, load.stop, LOAD_TIMEOUT_S)
        acked = list(load.acked)
        statuses = [status for _, _, status in acked]
        assert len(acked) >= MIN_ACKED and statuses.count(200) >= MIN_ALLOWED, f"too few acknowledged: {statuses}"
        assert 403 in statuses

        gw.start()
        after = httpx.post(gw.url + "/v1/embeddings", headers={"Authorization": f"Bearer {keys[0]}"},
                           json={"model": MODEL, "input": "after the restart"}, timeout=60)
        assert after.status_code == 200
        assert int(after.headers["X-Gateway-Audit-Index"]) > max(index for index, _, _ in acked)
    finally:
        gw.stop()  # SIGTERM: the final checkpoint covers everything

    log, cp = tmp_path / "log.jsonl", tmp_path / "cp.txt"
    exported = audit_cli("export", "--data-dir", str(gw.data_dir), "--out", str(log), "--checkpoint-out", str(cp))
    assert exported.returncode == 0, exported.stderr
    lines = log.read_bytes().split(b"\n")[:-1]
    missing = [(i, rid) for i, rid, _ in acked if i >= len(lines) or json.loads(lines[i]).get("request_id") != rid]
    assert not missing, f"{len(missing)} acknowledged receipts are not in the log, e.g. {missing[:3]}"
    events = {json.loads(line)["event"] for line in lines}
    assert {"embeddings.create", "authz.denied", "gateway.start"} <= events
    verified = audit_cli("verify", "--log", str(log), "--checkpoint", str(cp),
                         "--public-key", str(gw.keys_dir / "audit_ed25519.pub"))
    assert verified.returncode == 0, verified.stderr
