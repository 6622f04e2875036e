"""A job whose output cannot be written (attack17). A completed one already failed with ``finalize_failed``; a
cancelled one raised out of the runner, so the runner let it go and took it again at every lease, for good (each time
loading every answered item into memory). And one whose input was gone at a resumption dropped what it had
answered."""

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
from gateway.jobs.base import ItemOutcome, Job, JobFailed
from gateway.jobs.runner import JobService
from tests.unit.auditing.audit_fakes import ListSink, test_secret
from tests.unit.jobs.test_job_core import ALICE, Clock, Doubling


class Unwritable(Doubling):
    """Answers its items, then cannot write its output."""

    async def finish(self, job: Job, outcomes: Sequence[ItemOutcome], state: str) -> dict[str, Any]:
        raise OSError("disk full")


@pytest.mark.parametrize("cancel", [False, True])
def test_when_the_output_cannot_be_written_then_the_job_fails_once_and_is_not_taken_again(
    tmp_path: Path, cancel: bool,
) -> None:
    db = SQLiteDatabase(tmp_path / "store.db")
    store, clock, sink = SQLiteJobStore(db), Clock(), ListSink()
    service = JobService(store, Envelope(Keyring.generate(), SQLiteDataKeyRepository(db)), Auditor(sink, test_secret),
                         lease_s=30, inflight=4, clock=clock, idle_growth=1)
    service.register(Unwritable(8))

    async def scenario() -> None:
        await service.create(ALICE, "double", "job-1", {"n": 8}, 8)
        if cancel:
            await service.cancel("acme", "double", "job-1")
        claimed = store.claim(service.runner_id, clock(), 30, ["double"])
        assert claimed is not None
        done = await service.run_job(claimed)
        assert done.state == "failed"
        assert done.result["errors"] == [{"code": "finalize_failed", "message": "OSError"}]
        assert sink.entries[-1]["event"] == "job.completed" and sink.entries[-1]["decision"] == "error"
        clock.now += 3600  # long past any lease: nothing is left to take
        assert store.claim(service.runner_id, clock(), 30, ["double"]) is None

    asyncio.run(scenario())


class InputGone(Doubling):
    """Its input can no longer be loaded (a batch's input file deleted while it ran)."""

    async def load(self, job: Job) -> Sequence[Any]:
        raise JobFailed([{"code": "input_file_missing"}])


def test_when_the_input_is_gone_after_a_crash_then_the_items_answered_before_are_written_out(tmp_path: Path) -> None:
    """Over HTTP: 1,120 of 3,000 lines embedded and charged, the input file deleted, kill -9; after the restart the
    batch failed with ``input_file_missing`` and no output or error file: the 1,120 answers were dropped."""
    db = SQLiteDatabase(tmp_path / "store.db")
    store, clock, sink = SQLiteJobStore(db), Clock(), ListSink()
    envelope = Envelope(Keyring.generate(), SQLiteDataKeyRepository(db))

    def service(kind: Doubling) -> JobService:
        s = JobService(store, envelope, Auditor(sink, test_secret), lease_s=30, inflight=4, clock=clock,
                       idle_growth=1)
        s.register(kind)
        return s

    async def scenario() -> None:
        first = service(Doubling(10, crash_after=2))
        await first.create(ALICE, "double", "job-2", {"n": 10}, 10)
        claimed = store.claim(first.runner_id, clock(), 30, ["double"])
        assert claimed is not None
        with pytest.raises(RuntimeError, match="killed"):
            await first.run_job(claimed)
        clock.now += 31
        second = service(InputGone(10))
        resumed = store.claim(second.runner_id, clock(), 30, ["double"])
        assert resumed is not None
        done = await second.run_job(resumed)
        assert done.state == "failed" and done.result["errors"] == [{"code": "input_file_missing"}]
        assert done.result["answers"] == [n * 2 for n in range(8)]  # finish() wrote what was answered

    asyncio.run(scenario())
