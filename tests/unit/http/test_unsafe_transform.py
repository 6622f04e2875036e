"""An unsafe setting says so: ``vector_transform = "identity"`` is warned about and audited at every start."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from litestar.testing import TestClient

from gateway.http.app import create_app
from gateway.privacy.transform import UnsafeIdentityTransform
from tests.unit.http.conftest import fake_services


def _events(services: object) -> list[dict[str, object]]:
    log = services.audit_log  # type: ignore[attr-defined]
    return [json.loads(leaf) for leaf in log.entries(0, log.size())]


def test_when_the_identity_transform_is_in_force_then_start_warns_and_audits_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    services = fake_services(tmp_path, vector_transform="identity")
    assert isinstance(services.pipeline.transform, UnsafeIdentityTransform)
    with caplog.at_level(logging.WARNING), TestClient(create_app(services)):
        entries = [e for e in _events(services) if e["event"] == "privacy.protection_off"]
    assert len(entries) == 1 and entries[0]["vector_transform"] == "identity" and entries[0]["decision"] == "allow"
    assert any("vector_transform=identity" in r.getMessage() for r in caplog.records)


def test_when_the_default_transform_is_in_force_then_no_protection_off_entry(tmp_path: Path) -> None:
    services = fake_services(tmp_path)
    with TestClient(create_app(services)):
        events = [e["event"] for e in _events(services)]
    assert "gateway.start" in events and "privacy.protection_off" not in events
