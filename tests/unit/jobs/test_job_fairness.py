"""The runner takes turns: a tenant's large job no longer delays another tenant's small one to its end, weights
share the slices, and a job parked between its slices is taken on again without loss, repeat or a counted attempt.

The runner runs for real here (``JobService.start``), over a real SQLite job store; the job kind is a fake."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from gateway.auditing.auditor import Auditor
from gateway.auth.apikeys import Principal
from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.backends.sqlite.datakeys import SQLiteDataKeyRepository
from gateway.backends.sqlite.jobs import SQLiteJobStore
from gateway.crypto import Envelope, Keyring
from gateway.jobs.base import ItemOutcome, Job
from gateway.jobs.fairness import FairTurns, Waiting
from gateway.jobs.runner import JobService
from tests.unit.auditing.audit_fakes import ListSink, test_secret


def _principal(tenant: str) -> Principal:
    return Principal(f"k-{tenant}", tenant, "someone", "writer", ("writer",))


class Slices:
    """Answers every item; remembers which job each slice (a ``run`` call) belonged to."""

    name = "slices"

    def __init__(self) -> None:
        self.log: list[str] = []
        self.loads = 0

    async def load(self, job: Job) -> Sequence[Any]:
        self.loads += 1
        return list(range(job.params["n"]))

    async def run(self, job: Job, items: Sequence[tuple[int, Any]]) -> list[ItemOutcome]:
        self.log.append(job.id)
        await asyncio.sleep(0.001)  # a slice takes a moment, as a real one does
        return [ItemOutcome(i, True, str(item).encode()) for i, item in items]

    async def finish(self, job: Job, outcomes: Sequence[ItemOutcome], state: str) -> dict[str, Any]:
        self.log.append("finished:" + job.id)
        return {"answers": len(outcomes)}

    def until_finished(self, job_id: str, start: int = 0) -> list[str]:
        """The slices from ``start`` to the end of ``job_id``."""
        return self.log[start:self.log.index("finished:" + job_id)]


def _service(tmp_path: Path, kind: Slices, *, inflight: int, weights: dict[str, float] | None = None
             ) -> tuple[JobService, SQLiteJobStore]:
    db = SQLiteDatabase(tmp_path / "store.db")
    store = SQLiteJobStore(db)
    service = JobService(store, Envelope(Keyring.generate(), SQLiteDataKeyRepository(db)),
                         Auditor(ListSink(), test_secret), inflight=inflight, idle_growth=1, poll_s=0.05,
                         weight=lambda tenant: (weights or {}).get(tenant, 1.0))
    service.register(kind)
    return service, store


async def _until(check: Any, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "the runner did not get there in time"
        await asyncio.sleep(0.005)


def test_when_a_tenant_submits_a_small_job_behind_another_tenants_large_one_then_it_finishes_within_a_few_slices(
    tmp_path: Path,
) -> None:
    kind = Slices()
    service, store = _service(tmp_path, kind, inflight=10)

    async def scenario() -> None:
        await service.create(_principal("acme"), "slices", "job-large", {"n": 1000}, 1000)
        service.start()
        try:
            await _until(lambda: kind.log.count("job-large") >= 3)  # the large job is well under way
            before = len(kind.log)
            await service.create(_principal("globex"), "slices", "job-small", {"n": 10}, 10)
            await _until(lambda: (j := store.get("globex", "job-small")) is not None and j.state == "completed")
            large = store.get("acme", "job-large")
        finally:
            await service.stop()
        assert large is not None and large.state == "running" and large.answered < 1000
        meanwhile = kind.until_finished("job-small", before)
        # One slice of the small job (10 lines) and its end; the large one ran at most the slice in progress and
        # one between those two.
        assert meanwhile.count("job-small") == 1
        assert meanwhile.count("job-large") <= 2, meanwhile

    asyncio.run(scenario())


def test_when_tenants_have_weights_then_they_share_the_slices_in_proportion(tmp_path: Path) -> None:
    kind = Slices()
    service, _ = _service(tmp_path, kind, inflight=1, weights={"gold": 3.0})

    async def scenario() -> None:
        await service.create(_principal("acme"), "slices", "job-acme", {"n": 200}, 200)
        await service.create(_principal("gold"), "slices", "job-gold", {"n": 200}, 200)
        service.start()
        try:
            await _until(lambda: len(kind.log) >= 40)
        finally:
            await service.stop()

    asyncio.run(scenario())
    first = kind.log[:40]
    assert first.count("job-gold") == 30 and first.count("job-acme") == 10, first
    assert kind.loads == 2  # each job's items loaded once, kept between its slices


def test_when_a_tenant_has_a_large_and_a_small_job_then_they_take_turns(tmp_path: Path) -> None:
    kind = Slices()
    service, store = _service(tmp_path, kind, inflight=5)

    async def scenario() -> None:
        await service.create(_principal("acme"), "slices", "job-a-large", {"n": 500}, 500)
        await service.create(_principal("acme"), "slices", "job-a-small", {"n": 10}, 10)
        service.start()
        try:
            await _until(lambda: (j := store.get("acme", "job-a-small")) is not None and j.state == "completed")
        finally:
            await service.stop()

    asyncio.run(scenario())
    until = kind.until_finished("job-a-small")
    assert until.count("job-a-small") == 2 and until.count("job-a-large") <= 3, until


def test_when_jobs_take_turns_then_every_item_is_answered_exactly_once_and_no_attempt_is_counted(
    tmp_path: Path,
) -> None:
    kind = Slices()
    service, store = _service(tmp_path, kind, inflight=3)

    async def scenario() -> None:
        for n, tenant in enumerate(("acme", "globex", "initech")):
            await service.create(_principal(tenant), "slices", f"job-{n}", {"n": 20 + n}, 20 + n)
        service.start()
        try:
            await _until(lambda: all((j := store.get(t, f"job-{n}")) is not None and j.state == "completed"
                                     for n, t in enumerate(("acme", "globex", "initech"))))
        finally:
            await service.stop()

    asyncio.run(scenario())
    for n, tenant in enumerate(("acme", "globex", "initech")):
        job = store.get(tenant, f"job-{n}")
        assert job is not None and job.attempts == 1 and job.result == {"answers": 20 + n}
        assert [i.index for i in store.items(job.id)] == list(range(20 + n))
    assert len(set(kind.log[:9])) == 3  # interleaved from the start, not one job after the other


def test_fair_turns_when_a_tenant_comes_back_then_it_has_banked_no_credit() -> None:
    turns = FairTurns()
    a, b = Waiting("a", "acme", 1.0, 1), Waiting("b", "globex", 2.0, 1)
    for _ in range(5):
        assert turns.pick([a]) == a
        turns.served(a)
    order = []
    for _ in range(4):
        picked = turns.pick([a, b])
        assert picked is not None
        order.append(picked.id)
        turns.served(picked)
    assert order == ["b", "a", "b", "a"]  # globex starts level with acme: no burst for either
    assert turns.pick([]) is None


@pytest.mark.parametrize("weight", [0.5, 2.0])
def test_fair_turns_when_weighted_then_slices_follow_the_weight(weight: float) -> None:
    turns = FairTurns(lambda tenant: weight if tenant == "acme" else 1.0)
    a, b = Waiting("a", "acme", 1.0, 1), Waiting("b", "globex", 2.0, 1)
    picks = []
    for _ in range(30):
        picked = turns.pick([a, b])
        assert picked is not None
        picks.append(picked.id)
        turns.served(picked)
    assert picks.count("a") == round(30 * weight / (weight + 1))


class Stumbling(Slices):
    """Fails once, in the middle of one job's third slice, after half its items were 'done' (a crash mid-slice)."""

    def __init__(self, victim: str) -> None:
        super().__init__()
        self.victim, self.stumbled = victim, False

    async def run(self, job: Job, items: Sequence[tuple[int, Any]]) -> list[ItemOutcome]:
        if job.id == self.victim and not self.stumbled and self.log.count(job.id) == 2:
            self.stumbled = True
            self.log.append(job.id + ":failed")
            raise RuntimeError("the slice failed half-way")
        return await super().run(job, items)


def test_when_a_slice_fails_mid_way_then_its_job_resumes_after_its_lease_and_the_other_goes_on(
    tmp_path: Path,
) -> None:
    kind = Stumbling("job-victim")
    db = SQLiteDatabase(tmp_path / "store.db")
    store, sink = SQLiteJobStore(db), ListSink()
    service = JobService(store, Envelope(Keyring.generate(), SQLiteDataKeyRepository(db)),
                         Auditor(sink, test_secret), inflight=4, idle_growth=1, poll_s=0.05, lease_s=0.5)
    service.register(kind)

    async def scenario() -> None:
        await service.create(_principal("acme"), "slices", "job-victim", {"n": 40}, 40)
        await service.create(_principal("globex"), "slices", "job-other", {"n": 40}, 40)
        service.start()
        try:
            await _until(lambda: all((j := store.get(t, i)) is not None and j.state == "completed"
                                     for t, i in (("acme", "job-victim"), ("globex", "job-other"))))
        finally:
            await service.stop()

    asyncio.run(scenario())
    failed_at = kind.log.index("job-victim:failed")
    # While the failed job's lease ran out, the other tenant's job went on alone.
    assert kind.log[failed_at + 1:failed_at + 3] == ["job-other", "job-other"]
    victim = store.get("acme", "job-victim")
    assert victim is not None and victim.attempts == 2 and victim.result == {"answers": 40}
    assert [i.index for i in store.items("job-victim")] == list(range(40))
    other = store.get("globex", "job-other")
    assert other is not None and other.attempts == 1
    resumed = [e for e in sink.entries if e["event"] == "job.resumed"]
    assert len(resumed) == 1 and resumed[0]["job_id"] == "job-victim"
