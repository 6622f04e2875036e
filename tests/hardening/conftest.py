"""Fixtures of the hardening suite: one in-process gateway with fakes per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from gateway.policy.loader import GatewayPolicy
from tests.hardening.kit import Gateway, build_gateway


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[TestClient[Any], Gateway]]:
    app, gw = build_gateway(tmp_path)
    with TestClient(app) as client:
        yield client, gw


@pytest.fixture(scope="session")
def policy(shipped_policy: GatewayPolicy) -> GatewayPolicy:
    """The shipped policy file, as a new user runs it (``tests/conftest.py``)."""
    return shipped_policy


@pytest.fixture(scope="session")
def detector(presidio: Any) -> Any:
    """The session's real detector (spaCy and Presidio) under the shipped policy, shared with the PII unit tests."""
    return presidio
