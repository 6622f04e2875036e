"""A migration to another model of the same version is a migration (attack19): the binding is model and space.

Regression: `gateway collections migrate --to mini-cls@1.0.0` of a collection bound to all-MiniLM-L6-v2@1.0 was
refused as "already bound to all-MiniLM-L6-v2@1.0" (versions alone were compared), and the switch compared versions
alone too, so it would have kept the old model's collection.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.backends.sqlite.migration_state import SQLiteMigrationState
from gateway.embedding.specs import DEFAULT_MODEL
from gateway.errors import Conflict
from gateway.migration.migrate import Migrator, in_space
from gateway.store.base import Collection
from tests.unit.http.conftest import fake_services

BOUND = Collection("acme", "docs", DEFAULT_MODEL.name, "1.0.0", 384, "flat", True)


@pytest.mark.parametrize(("target", "same"), [
    (DEFAULT_MODEL, True),
    (replace(DEFAULT_MODEL, version="1.0.7"), True),  # a patch: the same space
    (replace(DEFAULT_MODEL, version="1.1.0"), False),
    (replace(DEFAULT_MODEL, name="mini-cls", pooling="cls"), False),  # another model, the same version string
])
def test_when_a_target_is_compared_with_a_collection_then_model_and_space_both_count(target: object,
                                                                                       same: bool) -> None:
    assert in_space(BOUND, target) is same  # type: ignore[arg-type]


def test_when_migrating_to_another_model_of_the_same_version_then_it_is_not_called_already_bound(
    tmp_path: Path,
) -> None:
    services = fake_services(tmp_path)
    try:
        services.collections.store.create_collection(BOUND)
        migrator = Migrator(services, SQLiteMigrationState(SQLiteDatabase(services.settings.sqlite_path),
                                                           services.envelope))
        with pytest.raises(Conflict) as refused:
            asyncio.run(migrator.run("acme", "docs", replace(DEFAULT_MODEL, name="mini-cls", pooling="cls")))
    finally:
        services.close()
    # The gateway serves the default model: the target must be the served one, as for any migration.
    assert "already bound" not in str(refused.value) and "this gateway serves" in str(refused.value)
