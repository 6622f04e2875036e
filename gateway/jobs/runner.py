"""``JobService``: creates jobs, answers reads of them, and runs them in the background, durably and fairly.

The runner is one task on the application's event loop. It runs jobs in slices: a slice is one group of at most
``inflight`` items (alone on the gateway, groups grow to ``idle_growth`` times that, and shrink back at the first
interactive request), stored, sealed under the tenant's data key, in the transaction that renews the job's lease.
Between slices it takes turns (``gateway.jobs.fairness.FairTurns``): weighted round-robin across tenants (the
policy's ``scheduling.weight``), round-robin across a tenant's jobs; the job it leaves is parked (its lease given
back, every item it ran stored) and waits for its next turn, so a tenant's large job no longer holds every job
created after it. Before each slice it waits until no interactive request has been in flight for a moment (at most
``YIELD_MAX_S``), and while a slice runs an interactive request takes its turn in the micro-batchers' round-robin
beside at most that many job texts. After a crash the lease runs out and the next runner, on this replica or
another, resumes the job from its stored items: the items already stored are never run again, so each is answered
exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from gateway.auditing.auditor import Auditor
from gateway.auth.apikeys import Principal
from gateway.crypto.envelope import Envelope, RecordContext
from gateway.errors import DecryptionFailed, NotFound
from gateway.jobs.base import ACTIVE_STATES, ItemOutcome, Job, JobFailed, JobKind, JobStore, StoredItem, owner_of
from gateway.jobs.fairness import FairTurns, Waiting
from gateway.observability.logs import VettedName
from gateway.pipeline.batching import BACKGROUND

log = logging.getLogger(__name__)
_SEALED_AS = "_jobs"  # the "collection" bound into each item's ciphertext: no collection can bear this name
# Before each group a job waits while interactive requests are in flight, for at most this long: interactive work
# goes first, and a job still advances (a group per second at least) under constant interactive traffic.
YIELD_MAX_S = 1.0
QUIET_S = 0.05  # once a request was seen in flight, the group starts after this long without one


KEEP_LOADED = 8  # jobs whose loaded items a runner keeps between their slices (the least recently served go first)


class LeaseLost(Exception):
    """Another runner holds the job now; this one lets it go."""


class JobForgotten(LeaseLost):
    """The job's rows were deleted while it ran (its tenant shredded): its answers were dropped; let it go."""


@dataclass
class _Progress:
    """A job's items not yet stored when it was loaded, and how far this runner got through them since."""

    todo: list[tuple[int, Any]]
    position: int
    answered: int  # the job's answered count after this runner's last slice of it
    attempts: int


class JobService:
    def __init__(
        self, store: JobStore, envelope: Envelope, auditor: Auditor, *, lease_s: float = 30.0, poll_s: float = 1.0,
        inflight: int = 4, keep_s: float = 30 * 86400.0, clock: Callable[[], float] = time.time,
        busy: Callable[[], int] = lambda: 0, idle_growth: int = 4, weight: Callable[[str], float] = lambda t: 1.0,
        forget: Callable[[str], Sequence[Job]] | None = None,
    ) -> None:
        """``weight``: a tenant's share of the runner's slices (the policy's ``scheduling.weight``); ``forget``:
        deletes a shredded tenant's files, jobs and staged inputs, returning the jobs (``jobs.base.forget_jobs``)."""
        self._forget = forget
        self._turns = FairTurns(weight)
        self._progress: OrderedDict[str, _Progress] = OrderedDict()
        self._held: Job | None = None  # the job whose lease the runner keeps between two of its slices
        self._busy = busy  # interactive requests in flight
        self._idle_growth = max(1, idle_growth)
        self.store = store
        self._envelope = envelope
        self._auditor = auditor
        self._lease_s, self._poll_s, self._inflight, self._keep_s = lease_s, poll_s, max(1, inflight), keep_s
        self._size = self._inflight  # the size of the next group (it grows while no interactive request comes)
        self._clock = clock
        self.runner_id = uuid.uuid4().hex
        self._kinds: dict[str, JobKind] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = False

    def register(self, kind: JobKind) -> None:
        self._kinds[kind.name] = kind

    # -- the use cases' side ------------------------------------------------------------------------------------

    async def create(self, principal: Principal, kind: str, job_id: str, params: dict[str, Any], total: int, *,
                     failed: dict[str, Any] | None = None) -> Job:
        """A queued job (or, with ``failed``, one refused before it ran, holding that result); audited."""
        if failed is None:  # its answers are sealed under this key, never under one made after a shred
            await asyncio.to_thread(self._envelope.ensure_key, principal.tenant)
        now = self._clock()
        job = Job(job_id, principal.tenant, kind, "failed" if failed is not None else "queued", owner_of(principal),
                  params, total, now, now + self._keep_s, result=failed or {},
                  finished_at=now if failed is not None else None)
        await asyncio.to_thread(self.store.create, job)
        await self._audit("job.created", job, "deny" if failed is not None else "allow")
        if self._wake is not None:
            self._wake.set()
        return job

    async def get(self, tenant: str, kind: str, job_id: str) -> Job:
        job = await asyncio.to_thread(self.store.get, tenant, job_id)
        if job is None or job.kind != kind:  # another tenant's job is as absent as no job
            raise NotFound(f"no such {kind}")
        return job

    async def list_jobs(self, tenant: str, kind: str, limit: int, after: str | None) -> list[Job]:
        return await asyncio.to_thread(self.store.list_jobs, tenant, kind, limit, after)

    async def cancel(self, tenant: str, kind: str, job_id: str) -> Job:
        await self.get(tenant, kind, job_id)
        job = await asyncio.to_thread(self.store.cancel, tenant, job_id)
        if job is None:
            raise NotFound(f"no such {kind}")
        if self._wake is not None:
            self._wake.set()
        return job

    def seal(self, job: Job, index: int, payload: bytes) -> bytes:
        """An item's answer sealed under the tenant's data key, which its input was sealed under before: never a
        new key (``DecryptionFailed`` when the tenant was shredded meanwhile)."""
        return self._envelope.encrypt_existing(RecordContext(job.tenant, _SEALED_AS, f"{job.id}/{index}", "1"),
                                               payload)

    def open(self, job: Job, item: StoredItem) -> bytes:
        return self._envelope.decrypt(RecordContext(job.tenant, _SEALED_AS, f"{job.id}/{item.index}", "1"),
                                      item.sealed)

    # -- the runner ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the runner on the running event loop (the application's start-up)."""
        self._wake = asyncio.Event()
        log.info("job runner %s started", VettedName(self.runner_id))  # lease_owner in the jobs table
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="job-runner")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        assert self._wake is not None
        while not self._stopping:
            try:
                turn = await self._next()
            except Exception as exc:  # the database may be away for a while: try again at the next poll
                log.warning("could not claim a job: %s", type(exc).__name__)
                turn = None
            if turn is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_s)
                self._wake.clear()
                continue
            job, waiting = turn
            try:
                job, done = await self._slice(job)
                self._turns.served(waiting)
                self._held = None if done else job
            except JobForgotten:
                log.warning("job %s was deleted while it ran (its tenant shredded); its answers were dropped",
                            VettedName(job.id))
                self._held = None
            except LeaseLost:
                log.warning("lost the lease of job %s; another runner has it", VettedName(job.id))
                self._held = None
            except Exception:  # the lease runs out and a runner tries again
                log.exception("job %s stopped with an error; it resumes after its lease", VettedName(job.id))
                self._progress.pop(job.id, None)
                self._held = None

    async def _next(self) -> tuple[Job, Waiting] | None:
        """The job whose slice comes next (``FairTurns``) with its lease: the one held, or another claimed after
        parking the one held. ``None`` when nothing waits (or another runner took the one picked)."""
        kinds, held = list(self._kinds), self._held
        waiting = await asyncio.to_thread(self.store.waiting, self._clock(), kinds)
        if held is not None and all(w.id != held.id for w in waiting):
            waiting.append(Waiting(held.id, held.tenant, held.created_at, held.attempts))
        pick = self._turns.pick(waiting)
        if pick is None:
            return None
        if held is not None and pick.id == held.id:
            return held, pick
        if held is not None:
            await asyncio.to_thread(self.store.park, held.id, self.runner_id)
            self._held = None
        job = await asyncio.to_thread(self.store.claim, self.runner_id, self._clock(), self._lease_s, kinds, pick.id)
        if job is None:
            return None
        if job.attempts > max(1, pick.attempts):  # taken over from a runner that stopped (not from a parked job)
            await self._audit("job.resumed", job, "allow", answered=job.answered)
        return job, pick

    async def run_job(self, job: Job) -> Job:
        """Run a claimed job to a final state (or until it is cancelled or its lease is lost), slice after slice."""
        if job.attempts > 1:
            await self._audit("job.resumed", job, "allow", answered=job.answered)
        done = False
        while not done:
            job, done = await self._slice(job)
        return job

    async def _slice(self, job: Job) -> tuple[Job, bool]:
        """One turn of a claimed job: one group of its items run and stored, or, once none is left (or it was
        cancelled), its end. True when the job reached a final state."""
        kind = self._kinds[job.kind]
        if job.id not in self._progress and not await asyncio.to_thread(self._envelope.holds_keys, job.tenant):
            return await self._end_shredded(job), True  # claimed (a start, a wake, a resumption), not mid-run
        if job.state == "queued":
            job = await self._move(job, "running")
        if job.state == "running" and not job.cancel_requested:
            try:
                progress = await self._todo(kind, job)
            except JobFailed as failed:
                self._progress.pop(job.id, None)
                job = await self._move(job, "failed", await self._kept(kind, job, {"errors": failed.errors}))
                await self._audit("job.completed", job, "error")
                return job, True
            if progress.position < len(progress.todo):
                return await self._group(kind, job, progress), False
        self._progress.pop(job.id, None)
        return await self._end(kind, job), True

    async def _end_shredded(self, job: Job) -> Job:
        """A job whose tenant holds no data key was shredded (a job is queued only once its tenant has one) by a
        shred that stopped before deleting it (a crash between the keys' destruction and the jobs' deletion):
        nothing of it opens any more, and retried it failed at every lease until it expired. It ends failed,
        ``tenant shredded``, and the shred's last step runs: the tenant's files (inputs, outputs), jobs and staged
        inputs deleted, each active job's end audited."""
        self._progress.pop(job.id, None)
        shredded = {"errors": [{"code": "tenant_shredded", "message": "tenant shredded"}]}
        log.warning("job %s belongs to a shredded tenant; it ends failed and its data is deleted", VettedName(job.id))
        if self._forget is None:  # no stores to complete the shred with: the job ends, its rows stay unreadable
            ended: Sequence[Job] = [await self._move(job, "failed", shredded)]
        else:
            ended = [j for j in await asyncio.to_thread(self._forget, job.tenant) if j.state in ACTIVE_STATES]
        for each in ended:
            await self._audit("job.completed", replace(each, state="failed", result=shredded), "error",
                              code="tenant_shredded")
        return replace(job, state="failed", result=shredded)

    async def _todo(self, kind: JobKind, job: Job) -> _Progress:
        """The job's items not yet stored: loaded once, then kept between its slices (while no other runner ran
        the job meanwhile), so a turn does not parse a large input again."""
        progress = self._progress.get(job.id)
        if progress is None or (progress.answered, progress.attempts) != (job.answered, job.attempts):
            items = await kind.load(job)
            done = {i.index for i in await asyncio.to_thread(self.store.items, job.id)}
            progress = _Progress([(n, item) for n, item in enumerate(items) if n not in done], 0, job.answered,
                                 job.attempts)
            self._progress[job.id] = progress
            while len(self._progress) > KEEP_LOADED:
                self._progress.popitem(last=False)
        self._progress.move_to_end(job.id)
        return progress

    async def _group(self, kind: JobKind, job: Job, progress: _Progress) -> Job:
        quiet = await self._yield_to_interactive()
        # Alone on the gateway a job doubles its groups, up to idle_growth times the cap; a request resets them.
        self._size = min(self._size * 2, self._inflight * self._idle_growth) if quiet else self._inflight
        group = progress.todo[progress.position:progress.position + self._size]
        token = BACKGROUND.set(True)  # its stage batches stay small while interactive requests arrive
        try:
            outcomes = await kind.run(job, group)
        finally:
            BACKGROUND.reset(token)
        if [o.index for o in outcomes] != [n for n, _ in group]:
            raise RuntimeError(f"job kind {kind.name} answered other items than it was given")
        sealed = await self._sealed(job, outcomes)
        recorded = await asyncio.to_thread(self.store.record, job.id, self.runner_id, self._clock(),
                                           self._lease_s, sealed)
        if recorded is None:
            self._progress.pop(job.id, None)
            raise LeaseLost(job.id)
        progress.position += len(group)
        progress.answered = recorded.answered
        return recorded

    async def _sealed(self, job: Job, outcomes: Sequence[ItemOutcome]) -> list[StoredItem]:
        """The group's answers sealed, unless the job was forgotten while it ran (its tenant shredded: the rows
        deleted, the keys gone): then they are dropped, never sealed under a key made anew, and the end audited."""
        try:
            if await asyncio.to_thread(self.store.get, job.tenant, job.id) is not None:
                return [StoredItem(o.index, o.ok, self.seal(job, o.index, o.payload)) for o in outcomes]
        except DecryptionFailed:  # shredded between the check and the seal
            pass
        self._progress.pop(job.id, None)
        await self._audit("job.cancelled", replace(job, state="cancelled"), "error", code="job_forgotten",
                          dropped=len(outcomes))
        raise JobForgotten(job.id)

    async def _outcomes(self, job: Job) -> list[ItemOutcome]:
        stored = await asyncio.to_thread(self.store.items, job.id)
        return [ItemOutcome(i.index, i.ok, self.open(job, i)) for i in stored]

    async def _kept(self, kind: JobKind, job: Job, result: dict[str, Any]) -> dict[str, Any]:
        """``result`` of a job that can run no further (its input gone after a restart, or at a turn that loaded it
        again) with the answers of the items it ran written out (a batch's output and error files): they were run and
        charged, and failing the job dropped them."""
        if not job.answered:
            return result
        try:
            return {**await kind.finish(job, await self._outcomes(job), "failed"), **result}
        except Exception:
            log.exception("job %s: its answers could not be written", VettedName(job.id))
            return result

    async def _end(self, kind: JobKind, job: Job) -> Job:
        outcomes = await self._outcomes(job)
        state = "cancelled" if job.cancel_requested else "completed"
        if state == "completed":
            await self._move(job, "finalizing")
        try:
            result = await kind.finish(job, outcomes, state)
        except Exception as exc:  # a cancelled job too: raised here, it was retried at every lease, for good
            log.exception("job %s could not be finished", VettedName(job.id))
            job = await self._move(job, "failed", {"errors": [{"code": "finalize_failed",
                                                               "message": type(exc).__name__}]})
            await self._audit("job.completed", job, "error")
            return job
        job = await self._move(job, state, result)
        await self._audit("job.cancelled" if state == "cancelled" else "job.completed", job, "allow")
        return job

    async def yield_to_interactive(self) -> bool:
        """The wait before a group, for a kind whose items are long (an ingest job's documents, seconds each) to
        take between the items of one group as well."""
        return await self._yield_to_interactive()

    async def _yield_to_interactive(self) -> bool:
        """Start the next group at once when no interactive request is in flight (True); else once they have been
        gone for ``QUIET_S`` (a caller's next request usually follows its last within that), or after
        ``YIELD_MAX_S`` (False)."""
        if self._busy() == 0:
            return True
        now = time.monotonic()
        deadline, quiet_since = now + YIELD_MAX_S, None
        while now < deadline:
            if self._busy() > 0:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = now
            elif now - quiet_since >= QUIET_S:
                return False
            await asyncio.sleep(0.005)
            now = time.monotonic()
        return False

    async def _move(self, job: Job, state: str, result: dict[str, Any] | None = None) -> Job:
        if not await asyncio.to_thread(self.store.move, job.id, self.runner_id, state, self._clock(), result):
            raise LeaseLost(job.id)
        moved = await asyncio.to_thread(self.store.get, job.tenant, job.id)
        if moved is None:
            raise LeaseLost(job.id)
        return moved

    async def _audit(self, event: str, job: Job, decision: str, **fields: Any) -> None:
        await self._auditor.record(
            event, None, decision, tenant=job.tenant, subject=job.owner.get("subject"), key_id=job.owner.get("key_id"),
            role=job.owner.get("role"), job_id=job.id, kind=job.kind, state=job.state, count=job.total,
            succeeded=job.succeeded, failed=job.failed, **fields,
        )

