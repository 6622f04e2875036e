"""A tenant shred leaves none of its collection names on disk: not in the change sequence, not in any table of
``gateway.db``, not in the privacy ledger, not in the audit log, not in a file name (issue 17)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from gateway.backends.sqlite.ledger import SQLitePrivacyLedger
from gateway.cli.commands import main
from tests.hardening.kit import Gateway, build_gateway

NAMES = ("zq-payroll-archive", "zq.board.minutes")


def _auth(gw: Gateway, role: str = "admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {gw.key('acme', role)}"}


def _everything_under(root: Path) -> bytes:
    """Every file's bytes and every path's name under ``root``."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        out += [n.encode() for n in dirnames + filenames]
        out += [(Path(dirpath) / n).read_bytes() for n in filenames]
    return b"\n".join(out)


def _fill(client: TestClient[Any], gw: Gateway) -> None:
    for name in NAMES:
        assert client.post("/v1/collections", json={"name": name}, headers=_auth(gw)).status_code == 201
        # 200 chunks: past the drift monitor's baseline (192), so drift rows name the collection too.
        docs = [{"id": f"d{i}", "text": f"quarterly figures number {i}"} for i in range(200)]
        assert client.post(f"/v1/collections/{name}/documents", json={"documents": docs},
                           headers=_auth(gw)).status_code == 200
        assert client.delete(f"/v1/collections/{name}/documents/d0", headers=_auth(gw)).status_code == 200
        assert client.post(f"/v1/collections/{name}/search", json={"query": "figures"},
                           headers=_auth(gw)).status_code == 200
        assert client.get(f"/v1/collections/{name}/drift", headers=_auth(gw)).json()["baseline"] is not None
    # Another tenant's collection is not the shredded tenant's data: it stays.
    assert client.post("/v1/collections", json={"name": "globex-kept"},
                       headers={"Authorization": f"Bearer {gw.key('globex', 'admin')}"}).status_code == 201
    gw.services.collections.store.flush()


def _assert_no_name_left(data_dir: Path) -> None:
    db = sqlite3.connect(data_dir / "gateway.db")
    try:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            rows = db.execute(f"SELECT * FROM {table}").fetchall()
            for name in NAMES:
                assert not [row for row in rows if name in repr(row)], f"{name} left in {table}"
        assert db.execute("SELECT count(*) FROM store_changes WHERE tenant = 'acme'").fetchone()[0] == 0
    finally:
        db.close()
    on_disk = _everything_under(data_dir)
    for name in NAMES:
        assert name.encode() not in on_disk, f"{name} is still on disk"
    assert b"globex-kept" in on_disk  # the scan can see a name that is there


def test_when_a_tenant_is_shredded_then_its_collection_names_are_nowhere_on_disk(tmp_path: Path) -> None:
    app, gw = build_gateway(tmp_path)
    with TestClient(app) as client:
        _fill(client, gw)
        spent = gw.services.ledger.view("acme").total
        r = client.post("/v1/admin/tenant/shred", json={"confirm": "acme"}, headers=_auth(gw))
        assert r.status_code == 200, r.text
        # Released vectors stay released: the privacy ledger keeps the spend, under labels that name nothing.
        after = gw.services.ledger.view("acme")
        assert after.total == spent and not set(after.scopes) & set(NAMES)
        gw.services.collections.store.flush()
        _assert_no_name_left(gw.services.settings.data_dir)


def test_when_a_tenant_is_shredded_from_the_cli_then_its_collection_names_are_nowhere_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    app, gw = build_gateway(tmp_path)
    with TestClient(app) as client:
        _fill(client, gw)
        spent = gw.services.ledger.view("acme").total
    for name, path in (("DATA_DIR", "data"), ("KEYS_DIR", "keys"), ("POLICY_DIR", "policy")):
        monkeypatch.setenv(f"GATEWAY_{name}", str(tmp_path / path))
    assert main(["tenant", "shred", "acme", "--confirm", "acme"]) == 0, capsys.readouterr().err
    ledger = SQLitePrivacyLedger(tmp_path / "data" / "privacy.db")
    try:
        after = ledger.view("acme")
        assert after.total == spent and not set(after.scopes) & set(NAMES)
    finally:
        ledger.close()
    _assert_no_name_left(tmp_path / "data")
