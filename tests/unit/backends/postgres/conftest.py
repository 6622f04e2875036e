"""Every test here needs the PostgreSQL server; each gets its own schema, dropped afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.backends.postgres.connection import PgDatabase
from gateway.backends.postgres.migrations import upgrade
from tests.unit.backends.postgres.pgkit import TempSchema


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/unit/backends/postgres/" in str(item.fspath):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture
def schema() -> Iterator[TempSchema]:
    made = TempSchema()
    yield made
    made.drop()


@pytest.fixture
def db(schema: TempSchema) -> Iterator[PgDatabase]:
    database = PgDatabase(schema.url, max_size=4)
    upgrade(database)
    yield database
    database.close()
