"""An input file's content is its uploader's (inputs19): a reader of the tenant downloaded a writer's input, its SSN
line included (an input is stored as uploaded, unscreened). Now the uploader (same key, or same OIDC subject of the
same tenant) and the tenant's admin read it; anyone else gets the 404 of an unknown file, audited; the file object,
and a batch's output and error files, stay the tenant's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from gateway.http.app import create_app
from tests.oidckit import AUDIENCE, ISSUER, Signer, jwks
from tests.unit.http.conftest import App, entry, fake_services

SSN_INPUT = (json.dumps({"custom_id": "a", "method": "POST", "url": "/v1/embeddings",
                         "body": {"model": "all-MiniLM-L6-v2", "input": "My SSN is 078-05-1120"}}) + "\n").encode()
SIGNER = Signer("RS256", "idp-1")


def upload(app: App, headers: dict[str, str]) -> str:
    r = app.client.post("/v1/files", files={"file": ("in.jsonl", SSN_INPUT)}, data={"purpose": "batch"},
                        headers=headers)
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def test_when_a_reader_asks_a_writers_input_file_then_404_audited_and_the_uploader_and_admin_read_it(app: App) -> None:
    writer = app.auth(app.key("acme", "alice", "writer"))
    file_id = upload(app, writer)
    for role in ("reader", "writer"):  # another key of the tenant, whatever its role
        other = app.auth(app.key("acme", "bob", role))
        refused = app.client.get(f"/v1/files/{file_id}/content", headers=other)
        unknown = app.client.get("/v1/files/file-nope/content", headers=other)
        assert refused.status_code == 404 == unknown.status_code and b"078-05-1120" not in refused.content
        assert refused.json()["error"]["message"] == unknown.json()["error"]["message"] == "no such file"
        e = entry(app, refused)
        assert (e["event"], e["decision"], e["reason"], e["file_id"]) == ("file.read", "deny", "not_uploader",
                                                                          file_id)
        assert app.client.get(f"/v1/files/{file_id}", headers=other).json()["filename"] == "in.jsonl"
    assert app.client.get(f"/v1/files/{file_id}/content", headers=writer).content == SSN_INPUT
    admin = app.auth(app.key("acme", "root", "admin"))
    assert app.client.get(f"/v1/files/{file_id}/content", headers=admin).content == SSN_INPUT
    globex = app.auth(app.key("globex", "root", "admin"))  # another tenant's admin: its own tenant only
    assert app.client.get(f"/v1/files/{file_id}/content", headers=globex).status_code == 404


def test_when_a_reader_creates_a_batch_from_a_writers_input_then_it_runs_and_its_outputs_are_the_tenants(
    app: App,
) -> None:
    writer = app.auth(app.key("acme", "alice", "writer"))
    reader = app.auth(app.key("acme", "bob", "reader"))
    file_id = upload(app, writer)
    r = app.client.post("/v1/batches", json={"input_file_id": file_id, "endpoint": "/v1/embeddings",
                                             "completion_window": "24h"}, headers=reader)
    assert r.status_code == 200, r.text


@pytest.fixture
def oidc_app(tmp_path: Path) -> Iterator[App]:
    keyset = tmp_path / "jwks.json"
    keyset.write_text(json.dumps(jwks(SIGNER)))
    services = fake_services(tmp_path, oidc_issuer=ISSUER, oidc_audience=AUDIENCE, oidc_jwks=str(keyset))
    with TestClient(create_app(services)) as client:
        yield App(client, services, tmp_path)


def test_when_a_token_uploads_then_the_same_subject_reads_the_content_and_no_other_subject_or_tenant_does(
    oidc_app: App,
) -> None:
    alice = {"Authorization": f"Bearer {SIGNER.token()}"}
    file_id = upload(oidc_app, alice)
    again = {"Authorization": f"Bearer {SIGNER.token({'jti': 'another token'})}"}  # a new token, the same subject
    assert oidc_app.client.get(f"/v1/files/{file_id}/content", headers=again).content == SSN_INPUT
    bob = {"Authorization": f"Bearer {SIGNER.token({'sub': 'bob@acme'})}"}
    assert oidc_app.client.get(f"/v1/files/{file_id}/content", headers=bob).status_code == 404
    key_alice = oidc_app.auth(oidc_app.key("acme", "alice@acme", "writer"))  # an API key of the same subject name
    assert oidc_app.client.get(f"/v1/files/{file_id}/content", headers=key_alice).status_code == 404
