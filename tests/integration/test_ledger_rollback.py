"""The real gateway refuses to start on a privacy ledger deleted between two starts, says how to get out, and starts
after the operator's audited acceptance; normal restarts go on. Regression ledger19: a deleted ``privacy.db`` reset
every tenant's spend, and with it ``privacy_budget.epsilon``, unnoticed."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.auditkit import logged_entries
from tests.integration.server import PII_IN_PROCESS, GatewayProcess

pytestmark = pytest.mark.slow


def _embed(gw: GatewayProcess, key: str, texts: list[str]) -> dict[str, object]:
    r = httpx.post(gw.url + "/v1/embeddings", headers={"Authorization": f"Bearer {key}"},
                   json={"model": "all-MiniLM-L6-v2", "input": texts}, timeout=120)
    assert r.status_code == 200, r.text
    return dict(r.json())

def test_when_the_ledger_is_deleted_between_starts_then_the_start_is_refused_until_accepted(tmp_path: Path) -> None:
    gw = GatewayProcess(tmp_path / "gw", port=int(os.environ.get("LEDGER19_PORT", "0")), env=dict(PII_IN_PROCESS))
    gw.prepare()
    key = gw.make_key("acme", "app", "writer")
    gw.start()
    try:
        _embed(gw, key, ["The kettle is on the stove.", "Rain is expected tomorrow."])
        _embed(gw, key, ["A third sentence about trains."])
    finally:  # normal restarts, not refused, are every other restarting test's (test_quota_restart, ...)
        gw.stop()
    audited = [e["privacy"] for e in logged_entries(gw.data_dir) if isinstance(e.get("privacy"), dict)]
    assert [p["tenant_releases"] for p in audited] == [2, 3]  # type: ignore[index]
    for name in ("privacy.db", "privacy.db-wal", "privacy.db-shm"):
        (gw.data_dir / name).unlink(missing_ok=True)
    with pytest.raises(RuntimeError, match="exited with 2"):
        gw.start()
    assert "acme (0 releases, the audit log says at least 3)" in gw.log_path.read_text()
    assert gw.cli("privacy", "accept-ledger", "--tenant", "acme", "--confirm", "globex", check=False).returncode == 2
    accepted = gw.cli("privacy", "accept-ledger", "--tenant", "acme", "--confirm", "acme")
    assert "accepted a privacy ledger of 0 releases where the audit log recorded 3" in accepted.stdout
    accepted_entry = next(e for e in logged_entries(gw.data_dir) if e["event"] == "privacy.ledger.accepted")
    assert accepted_entry["audited_releases"] == 3
    gw.start()
    gw.stop()
