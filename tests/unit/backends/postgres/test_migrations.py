"""The versioned schema: applied once, by whichever replica gets there first."""

from __future__ import annotations

import threading

from gateway.backends.postgres.connection import PgDatabase
from gateway.backends.postgres.migrations import MIGRATIONS, applied, upgrade
from tests.unit.backends.postgres.pgkit import TempSchema


def test_when_upgraded_twice_then_the_second_run_applies_nothing(db: PgDatabase) -> None:
    assert upgrade(db) == []
    assert applied(db) == [m.version for m in MIGRATIONS]


def test_when_replicas_upgrade_at_once_then_each_migration_is_applied_exactly_once(schema: TempSchema) -> None:
    dbs = [PgDatabase(schema.url, max_size=1) for _ in range(3)]
    results: list[list[int]] = []
    threads = [threading.Thread(target=lambda d=d: results.append(upgrade(d))) for d in dbs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(v for r in results for v in r) == [m.version for m in MIGRATIONS]
    for d in dbs:
        d.close()
