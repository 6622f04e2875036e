"""Shared fixtures for the PII tests: the shipped policy and one Presidio detector per test session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.policy.loader import GatewayPolicy, load_policy

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def shipped_policy() -> GatewayPolicy:
    return load_policy(ROOT / "policy" / "gateway.yaml")


@pytest.fixture(scope="session")
def presidio(shipped_policy: GatewayPolicy) -> Iterator[object]:
    from gateway.pii.detector import PresidioDetector

    yield PresidioDetector(policy=shipped_policy)
