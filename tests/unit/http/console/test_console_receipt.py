"""The console's receipt page checks what ``gateway-audit prove`` checks, with real witnesses in process."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from audit.keys import load_public_key
from audit.witness import Witness, init_witness
from audit.witness_server import WitnessServer
from gateway.bootstrap import build_services
from gateway.crypto.keyfiles import init_keys
from gateway.embedding.embedder import FakeEmbedder
from gateway.embedding.specs import DEFAULT_MODEL
from gateway.http.app import create_app
from gateway.pii.fake import FakeDetector
from gateway.settings import load_settings
from tests.unit.http.conftest import REPO
from tests.unit.http.console.conftest import App


def _witness(root: Path, name: str, origin: str, keys: Path) -> Iterator[tuple[str, WitnessServer]]:
    vkey = init_witness(root / name, f"witness.test/{name}").vkey()
    server = WitnessServer(("127.0.0.1", 0), Witness(root / name, {origin: load_public_key(keys)}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}={vkey}", server
    server.shutdown()
    server.server_close()


@pytest.fixture
def witnessed(tmp_path: Path) -> Iterator[App]:
    """The gateway of the console tests with two witnesses: w1 answers, w2's address is closed."""
    shutil.copytree(REPO / "policy", tmp_path / "policy")
    init_keys(tmp_path / "keys")
    dirs = {"data_dir": tmp_path / "data", "keys_dir": tmp_path / "keys", "policy_dir": tmp_path / "policy"}
    origin = load_settings({}, **dirs).origin  # type: ignore[arg-type]
    w1 = _witness(tmp_path, "w1", origin, tmp_path / "keys" / "audit_ed25519.pub")
    w2 = _witness(tmp_path, "w2", origin, tmp_path / "keys" / "audit_ed25519.pub")
    (item1, _), (item2, server2) = next(w1), next(w2)
    server2.shutdown()
    server2.server_close()  # unreachable: its cosignature never comes
    settings = load_settings({}, **dirs, batch_max_wait_ms=0.0, audit_witnesses=f"{item1} {item2}")  # type: ignore[arg-type]
    services = build_services(settings, embedder=FakeEmbedder(DEFAULT_MODEL), detector=FakeDetector())
    with TestClient(create_app(services)) as client:
        yield App(client, services, tmp_path)
    next(w1, None)


def _signin(app: App, key: str) -> None:
    assert app.client.post("/console/signin", data={"api_key": key}, follow_redirects=False).status_code == 303


def _embed(app: App, tenant: str) -> int:
    key = app.key(tenant, f"{tenant}-writer", "writer")
    r = app.client.post("/v1/embeddings", json={"model": "all-MiniLM-L6-v2", "input": "hello"}, headers=app.auth(key))
    assert r.status_code == 200
    return int(r.headers["X-Gateway-Audit-Index"])


def _last_entry(app: App) -> dict[str, object]:
    size = app.services.audit_log.size()
    return dict(json.loads(app.services.audit_log.entries(size - 1, size)[0]))


def test_when_witnesses_are_configured_then_the_receipt_names_who_cosigned_the_checkpoint(witnessed: App) -> None:
    index = _embed(witnessed, "acme")
    _signin(witnessed, witnessed.key("acme", "olga", "auditor"))
    r = witnessed.client.get(f"/console/entries/{index}")
    assert r.status_code == 200
    assert "id='status' class='verified'" in r.text and "id='signature' class='verified'" in r.text
    assert "cosigned by 1 of the 2 witnesses given (witness.test/w1); quorum of 2 NOT met" in r.text
    assert "<td>witness.test/w1</td><td class='verified'>" in r.text
    assert "<td>witness.test/w2</td><td class='failed'>" in r.text
    note = r.text.split("<pre id='note'>")[1].split("</pre>")[0]
    assert "\u2014 witness.test/w1 " in note and "\u2014 witness.test/w2 " not in note
    assert f"--index {index} " in r.text
    audit = _last_entry(witnessed)
    assert (audit["what"], audit["verified"], audit["cosigned_by"]) == ("console.inclusion_proof", True, 1)


def test_when_a_tenant_auditor_opens_another_tenants_receipt_then_403_without_its_content(witnessed: App) -> None:
    globex = _embed(witnessed, "globex")
    own = _embed(witnessed, "acme")
    _signin(witnessed, witnessed.key("acme", "olga", "auditor"))
    assert witnessed.client.get(f"/console/entries/{own}").status_code == 200
    denied = witnessed.client.get(f"/console/entries/{globex}")
    assert denied.status_code == 403 and "globex-writer" not in denied.text and "pre id='note'" not in denied.text


def test_when_no_witness_is_configured_then_the_receipt_says_the_signing_key_alone_vouches(app: App) -> None:
    _signin(app, app.key("acme", "olga", "auditor"))
    r = app.client.get("/console/entries/0")
    assert r.status_code == 200 and "id='signature' class='verified'" in r.text
    assert "history is vouched for by the gateway's signing key alone" in r.text
    assert "\u2014 gateway-audit " in r.text.split("<pre id='note'>")[1]
