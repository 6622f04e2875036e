"""The job core on both backends: durable items, resumption after a crash, the lease, cancellation, tenancy."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from gateway.auditing.auditor import Auditor
from gateway.auth.apikeys import Principal
from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.backends.sqlite.datakeys import SQLiteDataKeyRepository
from gateway.backends.sqlite.jobs import SQLiteJobStore
from gateway.crypto import Envelope, Keyring
from gateway.errors import NotFound
from gateway.jobs.base import ItemOutcome, Job, JobFailed, JobStore
from gateway.jobs.runner import JobService, LeaseLost
from tests.unit.auditing.audit_fakes import ListSink, test_secret

ALICE = Principal("k1", "acme", "alice", "writer", ("writer",))


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Doubling:
    """Items are numbers; an odd one is refused. ``crash_after`` groups, the runner 'dies' (an exception)."""

    name = "double"

    def __init__(self, n: int, crash_after: int | None = None) -> None:
        self.n, self.crash_after, self.groups = n, crash_after, 0
        self.ran: list[int] = []

    async def load(self, job: Job) -> Sequence[Any]:
        if job.params["n"] < 0:
            raise JobFailed([{"code": "input_file_missing"}])
        return list(range(job.params["n"]))

    async def run(self, job: Job, items: Sequence[tuple[int, Any]]) -> list[ItemOutcome]:
        if self.crash_after is not None and self.groups >= self.crash_after:
            raise RuntimeError("killed")
        self.groups += 1
        self.ran += [i for i, _ in items]
        return [ItemOutcome(i, item % 2 == 0, str(item * 2).encode()) for i, item in items]

    async def finish(self, job: Job, outcomes: Sequence[ItemOutcome], state: str) -> dict[str, Any]:
        return {"state": state, "answers": [int(o.payload) for o in outcomes]}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[JobStore, Envelope]]:
    keyring = Keyring.generate()
    if request.param == "sqlite":
        db = SQLiteDatabase(tmp_path / "store.db")
        yield SQLiteJobStore(db), Envelope(keyring, SQLiteDataKeyRepository(db))
        return
    from gateway.backends.postgres.connection import PgDatabase
    from gateway.backends.postgres.datakeys import PgDataKeyRepository
    from gateway.backends.postgres.jobs import PgJobStore
    from gateway.backends.postgres.migrations import upgrade
    from tests.unit.backends.postgres.pgkit import TempSchema

    schema = TempSchema()
    pg = PgDatabase(schema.url, max_size=4)
    upgrade(pg)
    yield PgJobStore(pg), Envelope(keyring, PgDataKeyRepository(pg))
    pg.close()
    schema.drop()


def _service(store: JobStore, envelope: Envelope, kind: Doubling, clock: Clock, sink: ListSink) -> JobService:
    service = JobService(store, envelope, Auditor(sink, test_secret), lease_s=30, inflight=4, clock=clock,
                         idle_growth=1)
    service.register(kind)
    return service


def test_when_a_runner_dies_mid_job_then_the_next_resumes_and_answers_each_item_exactly_once(
    backend: tuple[JobStore, Envelope],
) -> None:
    store, envelope = backend
    clock, sink = Clock(), ListSink()

    async def scenario() -> None:
        first = _service(store, envelope, Doubling(10, crash_after=2), clock, sink)
        job = await first.create(ALICE, "double", "job-1", {"n": 10}, 10)
        claimed = store.claim(first.runner_id, clock(), 30, ["double"])
        assert claimed is not None and claimed.id == job.id
        with pytest.raises(RuntimeError, match="killed"):
            await first.run_job(claimed)
        assert len(store.items(job.id)) == 8  # two groups of four were durable before the 'crash'
        second_kind = Doubling(10)
        second = _service(store, envelope, second_kind, clock, sink)
        assert store.claim(second.runner_id, clock(), 30, ["double"]) is None  # the dead runner's lease holds
        clock.now += 31
        resumed = store.claim(second.runner_id, clock(), 30, ["double"])
        assert resumed is not None and resumed.attempts == 2
        done = await second.run_job(resumed)
        assert second_kind.ran == [8, 9]  # only what was not yet durable
        assert done.state == "completed" and (done.succeeded, done.failed) == (5, 5)
        assert done.result["answers"] == [n * 2 for n in range(10)]
        events = [e["event"] for e in sink.entries]
        assert events == ["job.created", "job.resumed", "job.completed"]

    asyncio.run(scenario())


def test_when_two_runners_claim_together_then_only_one_holds_the_job(backend: tuple[JobStore, Envelope]) -> None:
    store, envelope = backend
    clock, sink = Clock(), ListSink()
    service = _service(store, envelope, Doubling(4), clock, sink)
    asyncio.run(service.create(ALICE, "double", "job-2", {"n": 4}, 4))
    assert store.claim("runner-a", clock(), 30, ["double"]) is not None
    assert store.claim("runner-b", clock(), 30, ["double"]) is None
    assert store.record("job-2", "runner-b", clock(), 30, []) is None  # no lease: no write


def test_when_a_job_lost_its_lease_then_its_old_runner_stops(backend: tuple[JobStore, Envelope]) -> None:
    store, envelope = backend
    clock, sink = Clock(), ListSink()
    service = _service(store, envelope, Doubling(8), clock, sink)

    async def scenario() -> None:
        await service.create(ALICE, "double", "job-3", {"n": 8}, 8)
        stale = store.claim(service.runner_id, clock(), 30, ["double"])
        assert stale is not None
        clock.now += 31
        assert store.claim("other", clock(), 30, ["double"]) is not None
        with pytest.raises(LeaseLost):
            await service.run_job(stale)
        assert store.items("job-3") == []

    asyncio.run(scenario())


def test_when_a_job_is_cancelled_then_it_stops_and_keeps_what_was_answered(
    backend: tuple[JobStore, Envelope],
) -> None:
    store, envelope = backend
    clock, sink = Clock(), ListSink()
    service = _service(store, envelope, Doubling(8), clock, sink)

    async def scenario() -> None:
        await service.create(ALICE, "double", "job-4", {"n": 8}, 8)
        cancelled = await service.cancel("acme", "double", "job-4")
        assert cancelled.state == "cancelling"
        claimed = store.claim(service.runner_id, clock(), 30, ["double"])
        assert claimed is not None
        done = await service.run_job(claimed)
        assert done.state == "cancelled" and done.result == {"state": "cancelled", "answers": []}
        assert sink.entries[-1]["event"] == "job.cancelled"

    asyncio.run(scenario())


def test_when_another_tenant_asks_for_a_job_then_it_is_not_found(backend: tuple[JobStore, Envelope]) -> None:
    store, envelope = backend
    clock, sink = Clock(), ListSink()
    service = _service(store, envelope, Doubling(2), clock, sink)

    async def scenario() -> None:
        await service.create(ALICE, "double", "job-5", {"n": 2}, 2)
        assert (await service.get("acme", "double", "job-5")).id == "job-5"
        with pytest.raises(NotFound):
            await service.get("globex", "double", "job-5")
        with pytest.raises(NotFound):
            await service.cancel("globex", "double", "job-5")
        assert await service.list_jobs("globex", "double", 10, None) == []
        assert [j.id for j in await service.list_jobs("acme", "double", 10, None)] == ["job-5"]

    asyncio.run(scenario())


def test_when_items_are_stored_then_their_payloads_are_sealed(backend: tuple[JobStore, Envelope]) -> None:
    store, envelope = backend
    clock, sink = Clock(), ListSink()
    service = _service(store, envelope, Doubling(3), clock, sink)

    async def scenario() -> None:
        await service.create(ALICE, "double", "job-6", {"n": 3}, 3)
        claimed = store.claim(service.runner_id, clock(), 30, ["double"])
        assert claimed is not None
        await service.run_job(claimed)

        items = store.items("job-6")
        assert [i.index for i in items] == [0, 1, 2]
        assert all(i.sealed.startswith(b"GE") for i in items)  # the envelope's versioned format, not the payload
        job = await service.get("acme", "double", "job-6")
        assert [service.open(job, i) for i in items] == [b"0", b"2", b"4"]

    asyncio.run(scenario())


def test_when_a_job_can_never_run_then_it_fails_with_its_errors(backend: tuple[JobStore, Envelope]) -> None:
    store, envelope = backend
    clock, sink = Clock(), ListSink()
    service = _service(store, envelope, Doubling(0), clock, sink)

    async def scenario() -> None:
        await service.create(ALICE, "double", "job-7", {"n": -1}, 3)
        claimed = store.claim(service.runner_id, clock(), 30, ["double"])
        assert claimed is not None
        done = await service.run_job(claimed)
        assert done.state == "failed" and done.result == {"errors": [{"code": "input_file_missing"}]}
        assert store.claim(service.runner_id, clock() + 60, 30, ["double"]) is None  # never picked up again
        assert (sink.entries[-1]["event"], sink.entries[-1]["decision"]) == ("job.completed", "error")

    asyncio.run(scenario())


def test_when_interactive_requests_are_in_flight_then_a_group_waits_for_them(
    backend: tuple[JobStore, Envelope],
) -> None:
    store, envelope = backend
    clock, sink, calls, kind = Clock(), ListSink(), [], Doubling(2)

    def busy() -> int:
        calls.append(len(kind.ran))
        return 1 if len(calls) <= 3 else 0  # three requests' worth of waiting, then idle

    service = JobService(store, envelope, Auditor(sink, test_secret), inflight=4, clock=clock, busy=busy)
    service.register(kind)

    async def scenario() -> None:
        await service.create(ALICE, "double", "job-8", {"n": 2}, 2)
        claimed = store.claim(service.runner_id, clock(), 30, ["double"])
        assert claimed is not None
        await service.run_job(claimed)

    asyncio.run(scenario())
    assert calls[:4] == [0, 0, 0, 0] and kind.ran == [0, 1]  # nothing ran while the requests were in flight


def test_when_the_gateway_is_idle_then_groups_grow_and_a_request_shrinks_them_back(
    backend: tuple[JobStore, Envelope],
) -> None:
    store, envelope = backend
    clock, sink, kind = Clock(), ListSink(), Doubling(40)
    sizes: list[int] = []
    original = kind.run

    async def run(job: Job, items: Sequence[tuple[int, Any]]) -> list[ItemOutcome]:
        sizes.append(len(items))
        return await original(job, items)

    kind.run = run  # type: ignore[method-assign]
    busy = iter([0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    service = JobService(store, envelope, Auditor(sink, test_secret), inflight=2, clock=clock, idle_growth=4,
                         busy=lambda: next(busy, 0))
    service.register(kind)

    async def scenario() -> None:
        await service.create(ALICE, "double", "job-9", {"n": 40}, 40)
        claimed = store.claim(service.runner_id, clock(), 30, ["double"])
        assert claimed is not None
        done = await service.run_job(claimed)
        assert done.succeeded + done.failed == 40

    asyncio.run(scenario())
    assert sizes[:5] == [4, 8, 8, 2, 4] and sum(sizes) == 40  # grows to 4x the cap, back to it at a request


def test_when_a_job_is_parked_then_another_runner_takes_it_on_without_an_attempt_and_a_dead_runners_with_one(
    backend: tuple[JobStore, Envelope],
) -> None:
    store, envelope = backend
    service = _service(store, envelope, Doubling(9), Clock(), ListSink())
    now = 1_000_000.0
    asyncio.run(service.create(ALICE, "double", "job-p", {"n": 9}, 9))
    first = store.claim("runner-a", now, 30, ["double"])
    assert first is not None and first.attempts == 1
    assert store.waiting(now, ["double"]) == []  # held by a live lease
    assert store.park("job-p", "runner-b") is False  # only its holder parks it
    assert store.park("job-p", "runner-a") is True
    assert [w.id for w in store.waiting(now, ["double"])] == ["job-p"]
    second = store.claim("runner-b", now, 30, ["double"], "job-p")
    assert second is not None and second.attempts == 1  # a parked job: nothing of it was in flight
    assert store.claim("runner-c", now + 31, 30, ["double"], "job-other") is None
    third = store.claim("runner-c", now + 31, 30, ["double"], "job-p")  # runner-b died holding it
    assert third is not None and third.attempts == 2


def test_when_a_tenant_is_shredded_then_purge_tenant_removes_its_jobs_only(backend: tuple[JobStore, Envelope]) -> None:
    # attack16 (F6): a shredded tenant's batches stayed, their metadata sealed under destroyed keys
    store, _ = backend
    for job_id, tenant in (("job-i1", "initech"), ("job-i2", "initech"), ("job-a", "acme")):
        store.create(Job(job_id, tenant, "double", "queued", {"tenant": tenant}, {"n": 1}, 1, 1.0, 9e9))
    assert sorted(j.id for j in store.purge_tenant("initech")) == ["job-i1", "job-i2"]
    assert store.list_jobs("initech", "double", 10) == [] and store.get("initech", "job-i1") is None
    assert [j.id for j in store.list_jobs("acme", "double", 10)] == ["job-a"]
