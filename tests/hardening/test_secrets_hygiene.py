"""Planted API keys, key material and PII values never appear in logs, errors, metrics, the audit log or on disk;
key files are 0600 and the gateway refuses to start on key files others can read."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from gateway.crypto.keyfiles import KEY_FILES, init_keys, load_keys
from gateway.errors import ConfigurationError
from tests.hardening.kit import REPO, build_gateway, secret_values

MODEL = "all-MiniLM-L6-v2"
BIN = Path(sys.executable).parent


def _pii(marker: str) -> dict[str, str]:
    """Unique PII values per test run, so a hit can only come from this test."""
    digits = str(int(marker[:8], 16) % 10_000).zfill(4)
    return {
        "ssn": f"078-05-{digits}", "email": f"pat.{marker[:10]}@example.org",
        "phone": f"(555) 014-{digits}", "person": f"Alice Zq{marker[:6]}",
    }


def test_when_secrets_and_pii_are_planted_then_none_leaves_in_any_channel(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    marker = uuid.uuid4().hex
    pii = _pii(marker)
    app, gw = build_gateway(tmp_path)
    auth = {"Authorization": f"Bearer {gw.key('acme', 'writer')}"}
    admin = {"Authorization": f"Bearer {gw.key('acme', 'admin')}"}
    forged = "sk-" + marker * 2  # a key-shaped secret that is not a key: must not be echoed or logged either
    bodies: list[bytes] = []
    with TestClient(app) as client:
        texts = [f"My SSN is {pii['ssn']}", f"Mail {pii['email']} or call {pii['phone']}", f"{pii['person']} wrote"]
        for text in texts:
            bodies.append(client.post("/v1/embeddings", json={"model": MODEL, "input": text}, headers=auth).content)
            bodies.append(client.post("/v1/pii/analyze", json={"text": text}, headers=auth).content)
        bodies.append(client.post("/v1/collections", json={"name": "c"}, headers=auth).content)
        docs = [{"id": f"d{i}", "text": t, "metadata": {}} for i, t in enumerate(texts)]
        bodies.append(client.post("/v1/collections/c/documents", json={"documents": docs}, headers=auth).content)
        bodies.append(client.post("/v1/collections/c/search", json={"query": texts[1]}, headers=auth).content)
        bodies.append(client.post("/v1/embeddings", json={"model": MODEL, "input": "x"},
                                  headers={"Authorization": f"Bearer {forged}"}).content)
        bodies.append(client.get("/v1/collections", headers={"X-API-Key": forged}).content)
        bodies.append(client.post("/v1/admin/keys/rotate", headers=admin).content)
        bodies.append(client.get("/metrics").content)
        log = gw.services.audit_log
        audit = b"\n".join(log.entries(0, log.size()))
    planted = [v.encode() for v in pii.values()] + [forged.encode()] + secret_values(gw)
    planted += [(gw.root / "keys" / "kek.json").read_bytes()[20:60]]
    logs = "\n".join(r.getMessage() + str(r.exc_info or "") for r in caplog.records).encode()
    channels = {"responses": b"\n".join(bodies), "logs": logs, "audit log": audit}
    for name, blob in channels.items():
        for secret in planted:
            assert secret not in blob, f"a planted secret or PII value appeared in the {name}"
    on_disk = b"".join(p.read_bytes() for p in (tmp_path / "data").rglob("*") if p.is_file())
    for value in pii.values():
        assert value.encode() not in on_disk, "a PII value was stored in the clear"


def test_when_keys_are_created_then_every_file_is_0600_and_the_directory_0700(tmp_path: Path) -> None:
    init_keys(tmp_path / "keys")
    assert os.stat(tmp_path / "keys").st_mode & 0o777 == 0o700
    for name in KEY_FILES:
        assert os.stat(tmp_path / "keys" / name).st_mode & 0o777 == 0o600, name


@pytest.mark.parametrize("name", KEY_FILES)
def test_when_any_key_file_is_readable_by_others_then_loading_keys_fails(tmp_path: Path, name: str) -> None:
    init_keys(tmp_path / "keys")
    os.chmod(tmp_path / "keys" / name, 0o640)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        load_keys(tmp_path / "keys")


def test_when_a_key_file_is_readable_by_others_then_serve_exits_non_zero_saying_how_to_fix(tmp_path: Path) -> None:
    name = "kek.json"
    env: dict[str, Any] = {**os.environ, "GATEWAY_KEYS_DIR": str(tmp_path / "keys"),
                           "GATEWAY_DATA_DIR": str(tmp_path / "data"), "GATEWAY_POLICY_DIR": str(REPO / "policy")}
    init_keys(tmp_path / "keys")
    os.chmod(tmp_path / "keys" / name, 0o644)
    out = subprocess.run([str(BIN / "gateway"), "serve", "--port", "1"], env=env, capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode != 0
    message = out.stderr + out.stdout
    assert name in message and "chmod 600" in message
    assert "Traceback" not in message
    secret = (tmp_path / "keys" / name).read_text()
    assert secret.strip()[20:60] not in message
