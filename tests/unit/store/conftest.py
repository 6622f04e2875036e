"""Store fixtures: ``harness`` and ``store`` are parametrized over every backend the contract suite covers, and
over the observing wrapper (``gateway.observability.store.ObservedStore``), which must be a whole ``Store`` too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.observability.metrics import GatewayMetrics
from gateway.observability.store import ObservedStore
from gateway.store import Store
from tests.unit.store.store_kit import TEST_SETTINGS, Harness, SQLiteHarness

# The PostgreSQL backend joins with pytest.param("postgres", marks=pytest.mark.postgres) and a branch below.
BACKENDS = [pytest.param("sqlite"), pytest.param("postgres", marks=pytest.mark.postgres), pytest.param("observed")]


class ObservedHarness(SQLiteHarness):
    """The embedded backend behind the wrapper the gateway puts around every store (timing, no drift monitor)."""

    def _open(self) -> Store:
        return ObservedStore(super()._open(), GatewayMetrics())


@pytest.fixture(params=BACKENDS)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    made: Harness
    if request.param == "sqlite":
        made = SQLiteHarness(tmp_path / "data")
    elif request.param == "postgres":
        from tests.unit.backends.postgres.pgkit import PostgresHarness  # psycopg only where the backend is asked for

        made = PostgresHarness(TEST_SETTINGS)
    elif request.param == "observed":
        made = ObservedHarness(tmp_path / "data")
    else:  # pragma: no cover - a backend named in BACKENDS without a harness
        raise AssertionError(f"no harness for backend {request.param!r}")
    yield made
    made.close()


@pytest.fixture
def store(harness: Harness) -> Store:
    return harness.store
