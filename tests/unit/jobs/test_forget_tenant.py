"""A shredded tenant's files and jobs are deleted with its keys (attack16, F6).

Before: after ``POST /v1/admin/tenant/shred``, the tenant's ``GET /v1/files`` and ``GET /v1/batches`` answered 500
``decryption_failed`` at every call, its new files and batches included, until the old rows expired (30 days):
the rows stayed, sealed under keys that were gone.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.backends.sqlite.files import SQLiteFileStore
from gateway.backends.sqlite.job_inputs import SQLiteJobInputs
from gateway.backends.sqlite.jobs import SQLiteJobStore
from gateway.jobs.base import Job, forget_tenant
from gateway.jobs.files import FileRow


@pytest.fixture
def stores(tmp_path: Path) -> tuple[SQLiteFileStore, SQLiteJobStore, SQLiteJobInputs]:
    db = SQLiteDatabase(tmp_path / "gateway.db")
    return SQLiteFileStore(db), SQLiteJobStore(db), SQLiteJobInputs(db)


def _fill(stores: tuple[SQLiteFileStore, SQLiteJobStore, SQLiteJobInputs], tenant: str) -> None:
    files, jobs, inputs = stores
    for n in range(2):
        files.put(FileRow(f"file-{tenant}-{n}", tenant, "batch", b"sealed name", 10, 1.0 + n, 9e9), b"sealed")
    jobs.create(Job(f"job-{tenant}", tenant, "ingest", "running", {"tenant": tenant}, {}, 3, 1.0, 9e9))
    inputs.put(f"job-{tenant}", tenant, b"sealed input")


def test_when_a_tenant_is_forgotten_then_its_files_jobs_and_inputs_go_and_others_stay(
        stores: tuple[SQLiteFileStore, SQLiteJobStore, SQLiteJobInputs]) -> None:
    _fill(stores, "initech")
    _fill(stores, "acme")
    files, jobs, inputs = stores
    assert forget_tenant(files, jobs, inputs, "initech") == {"files": 2, "jobs": 1}
    assert files.list_files("initech", None, 10, None) == [] and files.stored_bytes("initech") == 0
    assert jobs.list_jobs("initech", "ingest", 10) == [] and inputs.get("initech", "job-initech") is None
    assert len(files.list_files("acme", None, 10, None)) == 2
    assert [j.id for j in jobs.list_jobs("acme", "ingest", 10)] == ["job-acme"]
    assert inputs.get("acme", "job-acme") == b"sealed input"
    assert forget_tenant(files, jobs, inputs, "initech") == {"files": 0, "jobs": 0}
