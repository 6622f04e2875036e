"""Cancelling a batch that already ended (attack17, fixes17a #4).

Before: ``POST /v1/batches/<id>/cancel`` on a completed (or failed, expired) batch answered 200 with the batch as it
was, so a client read the cancel as accepted. OpenAI answers 409 ``invalid_request_error`` "Cannot cancel a batch
with status 'completed'."; so does the gateway now, audited as a denied ``batch.cancel``."""

from __future__ import annotations

from pathlib import Path

from litestar.testing import TestClient

from gateway.http.app import create_app
from tests.unit.http.conftest import App, entry, fake_services
from tests.unit.http.test_batch_output_size import request, run_batch


def test_when_a_completed_batch_is_cancelled_then_409_names_its_status_and_the_refusal_is_audited(app: App) -> None:
    writer = app.auth(app.key("acme", "alice", "writer"))
    batch = run_batch(app, writer, request("c0", ["hello"]).encode())
    assert batch["status"] == "completed"
    refused = app.client.post(f"/v1/batches/{batch['id']}/cancel", headers=writer)
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"] == "Cannot cancel a batch with status 'completed'."
    audited = entry(app, refused)
    assert (audited["event"], audited["decision"], audited["status"]) == ("batch.cancel", "deny", 409)
    assert app.client.get(f"/v1/batches/{batch['id']}", headers=writer).json()["status"] == "completed"


def test_when_a_failed_batch_is_cancelled_then_409(tmp_path: Path) -> None:
    services = fake_services(tmp_path, batch_max_lines=2)
    with TestClient(create_app(services)) as client:
        app = App(client, services, tmp_path)
        writer = app.auth(app.key("acme", "alice", "writer"))
        batch = run_batch(app, writer, request("c0", ["a", "b", "c"]).encode())  # 3 inputs > 2: fails at creation
        assert batch["status"] == "failed"
        refused = client.post(f"/v1/batches/{batch['id']}/cancel", headers=writer)
        assert refused.status_code == 409
        assert refused.json()["error"]["message"] == "Cannot cancel a batch with status 'failed'."
