"""A KEK rotation killed midway is on the record: `key.rotate` is written before any data key changes.

Regression (attack19): `gateway keys rotate --rewrap` killed with `kill -9` at 12 moments left KEK versions 3 to 10
and 12 in `kek.json`, with up to 263 data keys re-wrapped under them, and no audit entry naming any of them (the
entry came after all the work); the later `key.rotate` entries retiring them named versions never seen created.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.cli.commands import _offline_store
from gateway.crypto.envelope import RecordContext
from gateway.crypto.keyfiles import init_keys, load_keys
from gateway.settings import load_settings
from tests.auditkit import logged_entries

# Runs the command with the re-wrap cut short by the process dying, as `kill -9` does: no cleanup runs.
_KILLED = """
import os, sys
from gateway.crypto.envelope import Envelope
Envelope.rewrap_all = lambda self: os._exit(9)
from gateway.cli.commands import main
sys.exit(main(["keys", "rotate", "--rewrap"]))
"""


def test_when_a_rotation_dies_midway_then_its_kek_version_is_audited_and_no_data_is_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    var, keys = tmp_path / "var", tmp_path / "keys"
    var.mkdir()
    init_keys(keys)
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(var))
    monkeypatch.setenv("GATEWAY_KEYS_DIR", str(keys))
    envelope, store = _offline_store(load_settings())
    ctx = RecordContext(tenant="acme", collection="docs", record_id="r1", model_version="1.0")
    sealed = envelope.encrypt(ctx, b"vector bytes")
    store.close()
    env = {**os.environ, "GATEWAY_DATA_DIR": str(var), "GATEWAY_KEYS_DIR": str(keys)}
    run = subprocess.run([sys.executable, "-c", _KILLED], env=env, capture_output=True, text=True, timeout=120,
                         check=False)
    assert run.returncode == 9, run.stderr
    assert load_keys(keys).kek.active == 2
    rotations = [e for e in logged_entries(var) if e["event"] == "key.rotate"]
    assert [(e["kek_version"], e["tenants"]) for e in rotations] == [(2, 1)]
    assert not [e for e in logged_entries(var) if e["event"] == "key.rewrap"]  # the re-wrap did not finish: no entry
    envelope, store = _offline_store(load_settings())
    try:
        assert envelope.decrypt(ctx, sealed) == b"vector bytes"  # the old data key, under KEK 1, still opens
        assert envelope.rewrap_all() == 1  # and the command's next run finishes the re-wrap
    finally:
        store.close()
