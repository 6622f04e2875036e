"""A tenant shredded while one of its jobs runs stays shredded (attack17, fixes17a #1).

Before: ``gateway tenant shred`` (or ``POST /v1/admin/tenant/shred``) during an ingest job deleted the tenant's data
keys and job rows, and ~40 s later the slice in flight sealed its answers: ``Envelope.encrypt`` made the tenant a new
(empty) data key on first use. Now the answers of that slice are dropped, never sealed, no key is made, and the
job's end is audited (``job.cancelled``, decision ``error``, code ``job_forgotten``)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from gateway.auditing.auditor import Auditor
from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.backends.sqlite.datakeys import SQLiteDataKeyRepository
from gateway.backends.sqlite.jobs import SQLiteJobStore
from gateway.crypto import Envelope, Keyring
from gateway.crypto.envelope import RecordContext
from gateway.jobs.base import ItemOutcome, Job
from gateway.jobs.runner import JobForgotten, JobService
from tests.unit.auditing.audit_fakes import ListSink, test_secret
from tests.unit.jobs.test_job_core import ALICE, Clock


class ShredsMidRun:
    """Answers its items, but the tenant is shredded while the group runs (``forget_rows``: the admin shred, which
    deletes the job rows too; without it, only the keys go, as when the check and the seal race)."""

    name = "double"

    def __init__(self, envelope: Envelope, store: SQLiteJobStore, forget_rows: bool) -> None:
        self.envelope, self.store, self.forget_rows = envelope, store, forget_rows

    async def load(self, job: Job) -> Sequence[Any]:
        return list(range(job.params["n"]))

    async def run(self, job: Job, items: Sequence[tuple[int, Any]]) -> list[ItemOutcome]:
        self.envelope.shred(job.tenant)
        if self.forget_rows:
            self.store.purge_tenant(job.tenant)
        return [ItemOutcome(i, True, str(item).encode()) for i, item in items]

    async def finish(self, job: Job, outcomes: Sequence[ItemOutcome], state: str) -> dict[str, Any]:
        return {}


@pytest.mark.parametrize("forget_rows", [True, False], ids=["shred-deletes-the-job", "keys-gone-job-row-left"])
def test_when_the_tenant_is_shredded_mid_slice_then_no_data_key_is_made_and_the_drop_is_audited(
        tmp_path: Path, forget_rows: bool) -> None:
    db = SQLiteDatabase(tmp_path / "store.db")
    store, keys = SQLiteJobStore(db), SQLiteDataKeyRepository(db)
    envelope = Envelope(Keyring.generate(), keys)
    envelope.encrypt(RecordContext("acme", "_jobs", "input", "1"), b"the job's staged input")  # its key, as in life
    clock, sink = Clock(), ListSink()
    service = JobService(store, envelope, Auditor(sink, test_secret), lease_s=30, inflight=4, clock=clock,
                         idle_growth=1)
    service.register(ShredsMidRun(envelope, store, forget_rows))

    async def scenario() -> None:
        job = await service.create(ALICE, "double", "job-1", {"n": 4}, 4)
        claimed = store.claim(service.runner_id, clock(), 30, ["double"])
        assert claimed is not None
        with pytest.raises(JobForgotten):
            await service.run_job(claimed)
        assert keys.active("acme") is None and [k for k in keys.all() if k.tenant == "acme"] == []
        assert store.items(job.id) == []
        ended = sink.entries[-1]
        assert (ended["event"], ended["decision"], ended["code"]) == ("job.cancelled", "error", "job_forgotten")
        assert ended["dropped"] == 4 and ended["state"] == "cancelled"

    asyncio.run(scenario())
