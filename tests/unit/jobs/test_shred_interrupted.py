"""A shred interrupted between the keys' destruction and the jobs' deletion completes (fixes18b).

Before: a crash (or ``kill -9``) after ``Envelope.shred`` and before ``forget_tenant`` left the tenant's jobs queued
or running; each claim failed to open its input, so the job was retried at every lease until it expired (30 days),
and ``gateway tenant shred`` said there was nothing to shred. Now the runner ends such a job at its next claim
(failed, ``tenant shredded``, audited) and deletes what the shred had left: the tenant's files, jobs and inputs."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gateway.auditing.auditor import Auditor
from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.backends.sqlite.datakeys import SQLiteDataKeyRepository
from gateway.backends.sqlite.files import SQLiteFileStore
from gateway.backends.sqlite.job_inputs import SQLiteJobInputs
from gateway.backends.sqlite.jobs import SQLiteJobStore
from gateway.crypto import Envelope, Keyring
from gateway.crypto.envelope import RecordContext
from gateway.jobs.base import ItemOutcome, Job, forget_jobs
from gateway.jobs.files import FileRow
from gateway.jobs.runner import JobService
from tests.unit.auditing.audit_fakes import ListSink, test_secret
from tests.unit.jobs.test_job_core import ALICE, Clock


class OpensItsInput:
    """A kind whose items are its staged input, sealed under the tenant's key (as a batch's input file is)."""

    name = "opens"

    def __init__(self, envelope: Envelope, inputs: SQLiteJobInputs) -> None:
        self.envelope, self.inputs = envelope, inputs

    async def load(self, job: Job) -> Sequence[Any]:
        sealed = self.inputs.get(job.tenant, job.id)
        assert sealed is not None
        return self.envelope.decrypt(RecordContext(job.tenant, "_jobs", f"{job.id}/input", "1"), sealed).split()

    async def run(self, job: Job, items: Sequence[tuple[int, Any]]) -> list[ItemOutcome]:
        return [ItemOutcome(i, True, item) for i, item in items]

    async def finish(self, job: Job, outcomes: Sequence[ItemOutcome], state: str) -> dict[str, Any]:
        return {"answered": len(outcomes)}


def test_when_a_shred_stopped_after_the_keys_then_the_runner_ends_the_tenants_jobs_and_deletes_their_data(
        tmp_path: Path) -> None:
    db = SQLiteDatabase(tmp_path / "store.db")
    store, inputs, files = SQLiteJobStore(db), SQLiteJobInputs(db), SQLiteFileStore(db)
    envelope = Envelope(Keyring.generate(), SQLiteDataKeyRepository(db))
    clock, sink = Clock(), ListSink()
    service = JobService(store, envelope, Auditor(sink, test_secret), lease_s=30, clock=clock,
                         forget=lambda tenant: forget_jobs(files, store, inputs, tenant).jobs)
    service.register(OpensItsInput(envelope, inputs))

    async def scenario() -> None:
        for n in (1, 2):
            job = await service.create(ALICE, "opens", f"job-{n}", {}, 3)
            inputs.put(job.id, "acme", envelope.encrypt(RecordContext("acme", "_jobs", f"{job.id}/input", "1"),
                                                        b"a b c"))
        files.put(FileRow("file-1", "acme", "batch", b"sealed name", 10, 1.0, 9e9), b"sealed")
        envelope.shred("acme")  # the shred's first step; the process dies before it deletes the jobs
        claimed = store.claim(service.runner_id, clock(), 30, ["opens"])
        assert claimed is not None
        ended = await service.run_job(claimed)
        assert ended.state == "failed" and ended.result["errors"][0]["code"] == "tenant_shredded"

    asyncio.run(scenario())
    assert store.list_jobs("acme", "opens", 10) == [] and files.list_files("acme", None, 10, None) == []
    assert inputs.get("acme", "job-1") is None and inputs.get("acme", "job-2") is None
    assert store.claim(service.runner_id, clock(), 30, ["opens"]) is None  # nothing left to retry
    ends = [e for e in sink.entries if e["event"] == "job.completed"]
    assert sorted(e["job_id"] for e in ends) == ["job-1", "job-2"]
    assert all((e["decision"], e["state"], e["code"]) == ("error", "failed", "tenant_shredded") for e in ends)
    assert envelope.holds_keys("acme") is False  # no key made anew for the shredded tenant
