"""Store fixtures: ``harness`` and ``store`` are parametrized over every backend the contract suite covers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.store import Store
from tests.unit.store.store_kit import TEST_SETTINGS, Harness, SQLiteHarness

# The PostgreSQL backend joins with pytest.param("postgres", marks=pytest.mark.postgres) and a branch below.
BACKENDS = [pytest.param("sqlite"), pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    made: Harness
    if request.param == "sqlite":
        made = SQLiteHarness(tmp_path / "data")
    elif request.param == "postgres":
        from tests.unit.backends.postgres.pgkit import PostgresHarness  # psycopg only where the backend is asked for

        made = PostgresHarness(TEST_SETTINGS)
    else:  # pragma: no cover - a backend named in BACKENDS without a harness
        raise AssertionError(f"no harness for backend {request.param!r}")
    yield made
    made.close()


@pytest.fixture
def store(harness: Harness) -> Store:
    return harness.store
