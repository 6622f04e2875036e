"""Fixtures of the hardening suite: one in-process gateway with fakes per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from gateway.policy.loader import GatewayPolicy, load_policy
from tests.hardening.kit import Gateway, build_gateway


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[TestClient[Any], Gateway]]:
    app, gw = build_gateway(tmp_path)
    with TestClient(app) as client:
        yield client, gw


@pytest.fixture(scope="session")
def policy() -> GatewayPolicy:
    """The shipped policy file, as a new user runs it."""
    return load_policy(Path(__file__).resolve().parents[2] / "policy" / "gateway.yaml")


@pytest.fixture(scope="session")
def detector(policy: GatewayPolicy) -> Any:
    """The real detector (spaCy and Presidio) under the shipped policy, loaded once for the evasion suites."""
    from gateway.pii.detector import PresidioDetector

    return PresidioDetector(policy=policy)
