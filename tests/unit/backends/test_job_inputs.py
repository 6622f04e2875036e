"""``JobInputs`` on both backends: an ingest job's sealed input, by tenant, until the job deletes it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.backends.sqlite.job_inputs import SQLiteJobInputs
from gateway.pipeline.ingest_jobs import JobInputs


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def inputs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JobInputs]:
    if request.param == "sqlite":
        yield SQLiteJobInputs(SQLiteDatabase(tmp_path / "store.db"))
        return
    from gateway.backends.postgres.connection import PgDatabase
    from gateway.backends.postgres.job_inputs import PgJobInputs
    from gateway.backends.postgres.migrations import upgrade
    from tests.unit.backends.postgres.pgkit import TempSchema

    schema = TempSchema(name=f"ingestjobs_{uuid.uuid4().hex[:12]}")
    pg = PgDatabase(schema.url, max_size=2)
    upgrade(pg)
    yield PgJobInputs(pg)
    pg.close()
    schema.drop()


def test_when_an_input_is_staged_then_only_its_tenant_reads_it_until_it_is_deleted(inputs: JobInputs) -> None:
    inputs.put("job-1", "acme", b"\x00sealed\xff")
    assert inputs.get("acme", "job-1") == b"\x00sealed\xff"
    assert inputs.get("globex", "job-1") is None and inputs.get("acme", "job-2") is None
    inputs.delete("globex", "job-1")  # another tenant's delete touches nothing
    assert inputs.get("acme", "job-1") == b"\x00sealed\xff"
    inputs.delete("acme", "job-1")
    assert inputs.get("acme", "job-1") is None
