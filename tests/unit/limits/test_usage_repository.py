"""The usage repository's contract, run on both backends: counts add up per (tenant, key, model, day), reads
are per tenant and per day range, and concurrent batches lose nothing."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.errors import BadRequest
from gateway.limits.usage import Usage, UsageRepository, day_range

KEY, OTHER = "0123456789abcdef", "fedcba9876543210"


@pytest.fixture(params=[pytest.param("sqlite"), pytest.param("postgres", marks=pytest.mark.postgres)])
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[UsageRepository]:
    if request.param == "sqlite":
        from gateway.backends.sqlite.connection import SQLiteDatabase
        from gateway.backends.sqlite.usage import SQLiteUsageRepository

        yield SQLiteUsageRepository(SQLiteDatabase(tmp_path / "store.db"))
        return
    from gateway.backends.postgres.connection import PgDatabase
    from gateway.backends.postgres.migrations import upgrade
    from gateway.backends.postgres.usage import PgUsageRepository
    from tests.unit.backends.postgres.pgkit import TempSchema

    schema = TempSchema(name=f"quotas_{uuid.uuid4().hex[:12]}")
    db = PgDatabase(schema.url, max_size=4)
    try:
        upgrade(db)  # migration 7 makes the table
        yield PgUsageRepository(db)
    finally:
        db.close()
        schema.drop()


def test_when_usage_is_added_in_batches_then_each_key_model_and_day_sums_its_own(repo: UsageRepository) -> None:
    repo.add([Usage("acme", KEY, "m1", "2026-12-01", 10, 1), Usage("acme", KEY, "m1", "2026-12-01", 5, 1),
              Usage("acme", OTHER, "m1", "2026-12-01", 7, 1)])
    repo.add([Usage("acme", KEY, "m1", "2026-12-01", 3, 1), Usage("acme", KEY, "m2", "2026-12-02", 4, 1),
              Usage("globex", KEY, "m1", "2026-12-01", 100, 1)])
    assert repo.read("acme", "2026-12-01", "2026-12-02") == [
        Usage("acme", KEY, "m1", "2026-12-01", 18, 3), Usage("acme", OTHER, "m1", "2026-12-01", 7, 1),
        Usage("acme", KEY, "m2", "2026-12-02", 4, 1),
    ]


def test_when_reading_then_only_the_tenant_and_the_days_asked_for_come_back(repo: UsageRepository) -> None:
    repo.add([Usage("acme", KEY, "m1", day, 1, 1) for day in ("2026-11-30", "2026-12-01", "2026-12-02")])
    repo.add([Usage("globex", OTHER, "m1", "2026-12-01", 9, 9)])
    assert [u.day for u in repo.read("acme", "2026-12-01", "2026-12-01")] == ["2026-12-01"]
    assert {u.tenant for u in repo.read("acme", "2026-01-01", "2026-12-31")} == {"acme"}
    assert repo.read("initech", "2026-01-01", "2026-12-31") == []


def test_when_batches_run_concurrently_then_no_count_is_lost(repo: UsageRepository) -> None:
    def work() -> None:
        for _ in range(20):
            repo.add([Usage("acme", KEY, "m1", "2026-12-01", 2, 1), Usage("acme", OTHER, "m1", "2026-12-01", 1, 1)])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = {u.key_id: u for u in repo.read("acme", "2026-12-01", "2026-12-01")}
    assert (rows[KEY].tokens, rows[KEY].requests, rows[OTHER].tokens) == (160, 80, 80)


@pytest.mark.parametrize(("since", "until", "fragment"), [
    ("2026-13-01", None, "not a calendar date"), ("1 Dec", None, "YYYY-MM-DD"),
    ("2026-12-02", "2026-12-01", "after 'until'"), ("2024-01-01", "2026-01-01", "at most 366 days"),
])
def test_when_a_day_range_is_malformed_then_it_is_refused(since: str, until: str | None, fragment: str) -> None:
    with pytest.raises(BadRequest) as info:
        day_range(since, until)
    assert fragment in info.value.message
