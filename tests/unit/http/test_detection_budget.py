"""A text that cannot be screened within the detection budget is refused (422, audited), never embedded unscreened;
long texts are screened on their own lane, so short texts of other requests do not wait behind them."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from gateway.bootstrap import build_services
from gateway.crypto.keyfiles import init_keys
from gateway.embedding.embedder import FakeEmbedder
from gateway.embedding.specs import DEFAULT_MODEL
from gateway.http.app import create_app
from gateway.pii.detector_types import LONG_TEXT
from gateway.pii.fake import FakeDetector
from gateway.settings import load_settings
from tests.unit.http.conftest import REPO, App, entry


@pytest.fixture
def spent(tmp_path: Path) -> Iterator[App]:
    """A gateway whose detection budget is already spent before any long text starts."""
    shutil.copytree(REPO / "policy", tmp_path / "policy")
    init_keys(tmp_path / "keys")
    settings = load_settings({}, data_dir=tmp_path / "data", keys_dir=tmp_path / "keys",
                             policy_dir=tmp_path / "policy", batch_max_wait_ms=0.0, pii_budget_s=0.0)
    services = build_services(settings, embedder=FakeEmbedder(DEFAULT_MODEL), detector=FakeDetector())
    with TestClient(create_app(services)) as client:
        yield App(client, services, tmp_path)


def test_when_a_long_text_exceeds_the_detection_budget_then_embeddings_answers_422_in_openai_shape(spent: App) -> None:
    key = spent.key("acme", "alice", "writer")
    response = spent.client.post("/v1/embeddings", headers=spent.auth(key),
                                 json={"model": "all-MiniLM-L6-v2", "input": ["short", "9" * LONG_TEXT]})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "pii_screening_too_costly" and "9999" not in error["message"]
    audited = entry(spent, response)
    assert audited["decision"] != "allow" and "9999" not in str(audited), audited


def test_when_a_short_text_is_sent_then_the_budget_of_the_long_lane_does_not_apply(spent: App) -> None:
    key = spent.key("acme", "alice", "writer")
    response = spent.client.post("/v1/embeddings", headers=spent.auth(key),
                                 json={"model": "all-MiniLM-L6-v2", "input": "x" * (LONG_TEXT - 1)})
    assert response.status_code == 200


def test_when_an_ingested_document_exceeds_the_detection_budget_then_the_problem_names_the_code(spent: App) -> None:
    key = spent.key("acme", "alice", "admin")
    created = spent.client.post("/v1/collections", headers=spent.auth(key), json={"name": "notes"})
    assert created.status_code in (200, 201)
    response = spent.client.post("/v1/collections/notes/documents", headers=spent.auth(key),
                                 json={"documents": [{"id": "d1", "text": "word " * LONG_TEXT}]})
    body = response.json()
    assert "pii_screening_too_costly" in str(body), body
    assert spent.services.detect_long_batcher.stats.items >= 1
