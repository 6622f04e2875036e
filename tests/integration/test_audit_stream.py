"""The audit stream for a SIEM against the real gateway: syslog from the gateway, ``gateway-audit follow`` beside
it, both across a restart of the gateway: every checkpointed entry once, in order, no gap."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.integration.server import BIN, PII_IN_PROCESS, GatewayProcess
from tests.syslogkit import Receiver, wait_for

pytestmark = pytest.mark.slow


def _traffic(gw: GatewayProcess, key: str, n: int) -> int:
    """``n`` refused and ``n`` embedded requests; returns the audit index of the last one."""
    with httpx.Client(base_url=gw.url, timeout=60) as client:
        for i in range(n):
            client.get("/v1/models", headers={"Authorization": "Bearer not-a-key"})
            r = client.post("/v1/embeddings", headers={"Authorization": f"Bearer {key}"},
                            json={"model": "all-MiniLM-L6-v2", "input": f"quarterly settlement note {i}"})
            assert r.status_code == 200, r.text
    return int(r.headers["X-Gateway-Audit-Index"])


def _follow(gw: GatewayProcess, state: Path) -> list[dict[str, object]]:
    out = subprocess.run([str(BIN / "gateway-audit"), "follow", "--data-dir", str(gw.data_dir), "--once",
                          "--state", str(state), "--public-key", str(gw.keys_dir / "audit_ed25519.pub")],
                         capture_output=True, text=True, timeout=60, check=True)
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_when_the_gateway_restarts_then_syslog_and_follow_deliver_every_entry_once(tmp_path: Path) -> None:
    receiver = Receiver()
    gw = GatewayProcess(tmp_path / "gw", env={**PII_IN_PROCESS, "GATEWAY_AUDIT_SYSLOG": f"tcp://127.0.0.1:{receiver.port}"})
    state = tmp_path / "follow.json"
    try:
        gw.prepare()
        key = gw.make_key("acme", "svc", "writer")
        gw.start()
        last = _traffic(gw, key, 3)
        wait_for(lambda: max(receiver.indexes(), default=-1) >= last)  # once a checkpoint covers it
        followed = _follow(gw, state)
        gw.stop()
        gw.start()
        last = _traffic(gw, key, 2)
        wait_for(lambda: max(receiver.indexes(), default=-1) >= last)
        gw.stop()
        followed += _follow(gw, state)
    finally:
        gw.stop()
        receiver.close()
    indexes = [r["index"] for r in followed]
    assert indexes == list(range(len(indexes))) and len(indexes) >= 13  # both starts, both stops, ten requests
    events = [r["entry"]["event"] for r in followed]  # type: ignore[index]
    assert events.count("gateway.start") == 2 and events.count("gateway.stop") == 2
    sent = receiver.indexes()
    assert sent == list(range(len(sent))), "syslog: a gap or a repeat"
    assert len(sent) >= last + 1  # the first stop went out after the restart; the last waits for the next
    assert b"quarterly settlement" not in b"".join(receiver.messages)  # digests, never the text
