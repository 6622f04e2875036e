"""The KEK in a real HSM token (SoftHSM2) under a real gateway: kept across a restart and a rotation, no KEK file
on disk, and a wrong PIN or a missing token stops the start with a clear message."""

from __future__ import annotations

import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.server import BIN, PII_IN_PROCESS, GatewayProcess
from tests.softhsm import SoftHsm

pytestmark = pytest.mark.slow
DOCS = [
    {"id": "ledger", "text": "Quarterly ledger reconciliation runs every night after settlement.", "metadata": {}},
    {"id": "garden", "text": "Tomatoes need full sun and regular watering in summer.", "metadata": {}},
]


@pytest.fixture(scope="module")
def hsm_gateway(softhsm: SoftHsm, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    root = Path(tmp_path_factory.mktemp("hsm"))
    token = f"gw-{uuid.uuid4().hex[:8]}"
    softhsm.new_token(token)
    gw = GatewayProcess(root, env={**PII_IN_PROCESS, **softhsm.settings_env(softhsm.pin_file(root), token)})
    gw.prepare()  # `gateway keys init`: the KEK is created in the token
    try:
        yield gw
    finally:
        gw.stop()


def call(gw: GatewayProcess, key: str, method: str, path: str, body: Any = None) -> httpx.Response:
    return httpx.request(method, gw.url + path, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=300)


def _serve_once(gw: GatewayProcess, **env: str) -> subprocess.CompletedProcess[str]:
    # Refusals come before the model and Presidio load; a start that got past them would load for ~20 s idle.
    return subprocess.run([str(BIN / "gateway"), "serve", "--port", "1"], env={**gw.env, **env},
                          capture_output=True, text=True, timeout=600)


def _kek_versions(gw: GatewayProcess) -> set[int]:
    with sqlite3.connect(gw.data_dir / "gateway.db") as conn:
        return {int(v) for (v,) in conn.execute("SELECT kek_version FROM data_keys")}


def test_when_the_kek_is_in_the_token_then_it_holds_across_restart_and_rotation(
    hsm_gateway: GatewayProcess, softhsm: SoftHsm
) -> None:
    gw = hsm_gateway
    assert sorted(p.name for p in gw.keys_dir.iterdir() if p.name != "README.md") == [
        "audit_ed25519.key", "audit_ed25519.pub", "hmac.key"]  # no kek.json: the KEK never touches the disk
    again = gw.cli("keys", "init")
    assert "already present" in again.stdout
    writer = gw.make_key("acme", "ingest-bot", "writer")
    gw.start()
    assert call(gw, writer, "POST", "/v1/collections", {"name": "notes", "model": "all-MiniLM-L6-v2"}).status_code \
        == 201
    r = call(gw, writer, "POST", "/v1/collections/notes/documents", {"documents": DOCS})
    assert r.status_code == 200 and all(x["status"] == "stored" for x in r.json()["results"]), r.text
    assert httpx.get(gw.url + "/readyz").json()["checks"]["keys_present"] is True
    gw.stop()
    gw.start()  # restart: the data keys unwrap in the token again
    assert call(gw, writer, "GET", "/v1/collections/notes/documents/ledger").status_code == 200
    gw.stop()
    assert _kek_versions(gw) == {1}
    rotated = gw.cli("keys", "rotate", "--rewrap")
    assert "KEK version 2 is active" in rotated.stdout and "re-wrapped" in rotated.stdout, rotated.stderr
    assert _kek_versions(gw) == {2}
    retired = gw.cli("keys", "retire", "1")  # destroys gateway-kek-v1 in the token: nothing is wrapped under it
    assert "KEK version 1 retired" in retired.stdout, retired.stderr
    gw.start()
    doc = call(gw, writer, "GET", "/v1/collections/notes/documents/ledger")
    assert doc.status_code == 200 and doc.json()["chunks"], doc.text  # ingested before the rotation, still readable
    hits = call(gw, writer, "POST", "/v1/collections/notes/search", {"query": "nightly reconciliation", "k": 1})
    assert hits.status_code == 200 and hits.json()["results"][0]["document_id"] == "ledger"
    gw.stop()
    assert not list(gw.root.rglob("kek.json"))

    # Another token with a KEK of its own (a wrong token label, a token re-initialized) opens none of the data
    # keys: the start is refused with one clear line instead of every read failing later.
    other = f"gw-{uuid.uuid4().hex[:8]}"
    softhsm.new_token(other)
    subprocess.run([str(BIN / "gateway"), "keys", "init"], env={**gw.env, "GATEWAY_PKCS11_TOKEN_LABEL": other},
                   check=True, capture_output=True, timeout=120)
    refused = _serve_once(gw, GATEWAY_PKCS11_TOKEN_LABEL=other)
    assert refused.returncode == 2 and "does not open the data keys" in refused.stderr, refused.stderr[-2000:]
    assert "Traceback" not in refused.stderr


def test_when_the_pin_is_wrong_then_the_gateway_refuses_to_start_clearly(
    hsm_gateway: GatewayProcess, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong.pin"
    wrong.write_text("not-the-pin\n")
    wrong.chmod(0o600)
    refused = _serve_once(hsm_gateway, GATEWAY_PKCS11_PIN_FILE=str(wrong))
    assert refused.returncode == 2
    assert "refused the login: the PIN in" in refused.stderr and "is wrong" in refused.stderr
    assert "Traceback" not in refused.stderr and "not-the-pin" not in refused.stderr + refused.stdout


def test_when_the_token_is_missing_then_the_gateway_refuses_to_start_clearly(hsm_gateway: GatewayProcess) -> None:
    refused = _serve_once(hsm_gateway, GATEWAY_PKCS11_TOKEN_LABEL="no-such-token")
    assert refused.returncode == 2 and "no token labelled 'no-such-token'" in refused.stderr
    assert "Traceback" not in refused.stderr
