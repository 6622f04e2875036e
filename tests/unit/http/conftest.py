"""An in-process gateway with fakes for the model and detector, real SQLite, real audit log and real Casbin."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from gateway.auth.apikeys import create_key
from gateway.bootstrap import Services, build_services
from gateway.crypto.keyfiles import init_keys
from gateway.embedding.embedder import FakeEmbedder
from gateway.embedding.specs import DEFAULT_MODEL
from gateway.http.app import create_app
from gateway.pii.fake import FakeDetector
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


def entry(app: App, response: Any) -> dict[str, Any]:
    """The audit entry a response's ``X-Gateway-Audit-Index`` names, parsed."""
    index = int(response.headers["X-Gateway-Audit-Index"])
    return dict(json.loads(app.services.audit_log.entries(index, index + 1)[0]))


def fake_services(root: Path, **overrides: Any) -> Services:
    """Services under ``root`` (the repository's policy, new keys) with the fake model and detector."""
    shutil.copytree(REPO / "policy", root / "policy")
    init_keys(root / "keys")
    settings = load_settings(
        {}, data_dir=root / "data", keys_dir=root / "keys", policy_dir=root / "policy", batch_max_wait_ms=0.0,
        **overrides,
    )
    return build_services(settings, embedder=FakeEmbedder(DEFAULT_MODEL), detector=FakeDetector())


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    services = fake_services(tmp_path)
    with TestClient(create_app(services)) as client:
        yield App(client, services, tmp_path)
