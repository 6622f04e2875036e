"""An in-process gateway with fakes for the model and detector, real SQLite, real audit log and real Casbin."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from litestar.testing import TestClient

from gateway.auth.apikeys import create_key
from gateway.crypto.keyfiles import init_keys
from gateway.embedder import FakeEmbedder
from gateway.http.app import create_app
from gateway.models import DEFAULT_MODEL
from gateway.pii.fake import FakeDetector
from gateway.service import Services, build_services
from gateway.settings import load_settings

REPO = Path(__file__).resolve().parents[3]


@dataclass
class App:
    client: TestClient  # type: ignore[type-arg]
    services: Services
    root: Path

    def key(self, tenant: str, subject: str, role: str) -> str:
        key, _ = create_key(self.services.apikeys, tenant, subject, role)
        return key

    def auth(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    shutil.copytree(REPO / "policy", tmp_path / "policy")
    init_keys(tmp_path / "keys")
    settings = load_settings(
        {}, data_dir=tmp_path / "data", keys_dir=tmp_path / "keys", policy_dir=tmp_path / "policy",
        batch_max_wait_ms=0.0,
    )
    services = build_services(settings, embedder=FakeEmbedder(DEFAULT_MODEL), detector=FakeDetector())
    with TestClient(create_app(services)) as client:
        yield App(client, services, tmp_path)
