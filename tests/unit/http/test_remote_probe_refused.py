"""A remote model not yet in service tells its callers what its engine did with the fingerprint probe: refused the
gateway's credentials (401/403), has no such endpoint (404/405), or did not answer at all; never the engine's words,
its URL or a credential."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from litestar.testing import TestClient

from gateway.errors import ModelUnavailable
from gateway.http.app import create_app
from tests.unit.http.conftest import App
from tests.unit.http.test_remote_models import REMOTE, FakeEngine, remote_services


class RefusingEngine(FakeEngine):
    """The fake engine, answering ``status`` (with words that must never reach a caller) while it is set."""

    def __init__(self, status: int) -> None:
        super().__init__()
        self.status = status

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.status:
            return httpx.Response(self.status, json={"error": {"message": "Incorrect API key sk-live-0123"}})
        return super().__call__(request)


@pytest.mark.parametrize(("status", "said"), [
    (401, "its engine refused the gateway's credentials (HTTP 401)"),
    (403, "its engine refused the gateway's credentials (HTTP 403)"),
    (404, "its engine's URL has no embeddings endpoint (HTTP 404)"),
    (500, "its engine refused the fingerprint probe (HTTP 500)"),
])
def test_when_the_engine_refuses_the_probe_then_callers_are_told_what_it_did_not_that_it_did_not_answer(
    tmp_path: Path, status: int, said: str,
) -> None:
    """Regression: a 401 or 404 at the probe read "its engine has not answered the fingerprint probe"."""
    engine = RefusingEngine(status)
    services = remote_services(tmp_path, engine)
    with TestClient(create_app(services)) as client:
        app = App(client, services, tmp_path)
        headers = app.auth(app.key("acme", "svc", "writer"))
        r = client.post("/v1/embeddings", json={"model": REMOTE, "input": "hello"}, headers=headers)
        assert r.status_code == 503 and r.json()["error"]["code"] == "model_unavailable"
        message = r.json()["error"]["message"]
        assert said in message and "has not answered" not in message
        assert "sk-live" not in r.text and "engine-a" not in r.text and "Incorrect" not in r.text
        engine.status = 0  # the operator fixed the key or the URL: the next probe puts the model in service
        services.fingerprints.run_once()
        assert client.post("/v1/embeddings", json={"model": REMOTE, "input": "hello"},
                           headers=headers).status_code == 200


def test_when_the_engine_does_not_answer_the_probe_then_callers_are_told_so(tmp_path: Path) -> None:
    engine = RefusingEngine(0)
    engine.mode = "down"
    services = remote_services(tmp_path, engine)
    try:
        model = services.models.get(REMOTE)
        with pytest.raises(ModelUnavailable, match="its engine has not answered the fingerprint probe"):
            model.check_available()
    finally:
        services.close()
