"""Issue 19: CLI actions record who ran them (operating-system user and host) as the actor of their entry."""

from __future__ import annotations

import getpass
import socket
from pathlib import Path

import pytest

from gateway.cli.commands import main
from gateway.crypto.keyfiles import init_keys
from tests.auditkit import logged_entries


@pytest.fixture
def var(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("GATEWAY_KEYS_DIR", str(tmp_path / "keys"))
    (tmp_path / "var").mkdir()
    init_keys(tmp_path / "keys")
    return tmp_path / "var"


def test_when_keys_are_created_revoked_and_rotated_then_each_entry_names_the_os_user_and_host(
    var: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["apikey", "create", "--tenant", "acme", "--subject", "eve", "--role", "reader"]) == 0
    key_id = capsys.readouterr().out.split()[3]
    assert main(["apikey", "revoke", key_id]) == 0
    assert main(["keys", "rotate"]) == 0
    assert main(["keys", "retire", "1"]) == 0  # no tenant has a data key yet: nothing is wrapped under version 1
    want = {"user": getpass.getuser(), "host": socket.gethostname()}
    entries = logged_entries(var)
    for event in ("apikey.create", "apikey.revoke", "key.rotate"):
        assert all(e["actor"] == want for e in entries if e["event"] == event), event
    rotations = [e for e in entries if e["event"] == "key.rotate"]
    assert rotations[0]["kek_version"] >= 2 and rotations[1]["retired_kek_version"] == 1
