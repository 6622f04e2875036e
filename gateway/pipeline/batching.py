"""Dynamic micro-batching: coalesce concurrent requests into model batches, off the event loop.

Callers ``await batcher.submit(items, weights)``; a worker thread takes whatever is queued, up to ``max_size``
items and ``max_weight`` (tokens), waiting at most ``max_wait_s`` for more to arrive, runs ``fn`` once on the whole
batch and hands each caller its slice. With ``workers`` above 1, that many threads take batches side by side (the
model releases the GIL in its kernels, so on a CPU two single-threaded forward passes do more than one using both
cores; see ``gateway.embedding.embedder``). A worker joins others already running only for at least ``join_min`` items
(the service asks for a quarter of a forward pass), so that the workers do not split the queue into slivers.

Work is queued per *lane*: one per caller (an API key, a token's subject: ``CALLER``) within its tenant (``lane``),
and batches are filled from the lanes in weighted round-robin, so one caller's 2,048-text request takes its turns
beside another's one-text request instead of ahead of it: a light caller waits for at most about one batch, however
much a heavy one has queued, whether the heavy one is another tenant or another key of its own tenant. A tenant's
weight (``lane_weight``, from the policy) sets its share of each batch and of the queue, split evenly among its
callers with work queued (many keys do not buy a tenant more). With ``express_max_size``, one more worker keeps
the light lanes (a caller with a text or two at a time) out of the full batches, so that their text waits for no
batch in progress at all (see ``__init__``).

The queue is bounded: when it is full, ``submit`` raises ``Overloaded`` at once (the HTTP layer answers 503 with
Retry-After) instead of growing memory without bound; a lane whose queued work passes its share of the bound, while
other lanes wait too, gets ``RateLimited`` (429 with Retry-After): the busy caller is slowed, the others are not.
A caller within its share still gets in when one lane alone has filled the queue (up to twice the bound).
A caller that waits beyond its request's time limit is
cancelled (``gateway.http.guard`` answers 504); its items not yet handed to a batch are then dropped, so a
backlog of abandoned work does not keep the model busy after an overload.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from gateway.errors import Overloaded, RateLimited, Unavailable
from gateway.pipeline.batch_jobs import BACKGROUND, CALLER, BatchStats, Job

__all__ = ["BACKGROUND", "CALLER", "BatchStats", "MicroBatcher"]

_SEP = "\x1f"  # between the tenant and the caller in a lane's name: neither a tenant id nor a key id holds it

T = TypeVar("T")
R = TypeVar("R")


class MicroBatcher(Generic[T, R]):
    def __init__(
        self,
        fn: Callable[[list[T]], Sequence[R]],
        *,
        name: str,
        max_size: int = 128,
        max_weight: int = 8192,
        max_wait_s: float = 0.004,
        max_queued_items: int = 8192,
        on_batch: Callable[[int, float], None] | None = None,
        workers: int = 1,
        join_min: int = 1,
        lane_weight: Callable[[str], float] | None = None,
        background_max_weight: int = 0,
        interactive_window_s: float = 2.0,
        express_max_size: int = 0,
        bulk_nice: int = 0,
        express_fn: Callable[[list[T]], Sequence[R]] | None = None,
    ) -> None:
        self._fn = fn
        self._express_fn = express_fn or fn  # what the express worker runs (a stage may keep it a resource apart)
        # While interactive work arrived in the last interactive_window_s, background items join a batch only while
        # its weight stays under background_max_weight (0: no cap): a batch is not preempted, so an interactive
        # caller waits for the one in progress, and a job's document of long chunks would otherwise make it seconds.
        self._background_max_weight = background_max_weight
        self._interactive_window_s = interactive_window_s
        self._interactive_at = float("-inf")
        self.name = name
        self._max_size = max_size
        self._max_weight = max_weight
        self._max_wait_s = max_wait_s
        self._max_queued = max_queued_items
        self._join_min = join_min
        self._running = 0  # workers inside fn
        self._on_batch = on_batch
        self._lanes: OrderedDict[str, deque[Job[T, R]]] = OrderedDict()  # round-robin order: next lane first
        self._lane_items: dict[str, int] = {}
        self._lane_weight = lane_weight or (lambda lane: 1.0)
        self._queued_items = 0
        lock = threading.RLock()
        self._cond = threading.Condition(lock)  # the other workers wait on it; the express worker on its own
        self._express_cond = threading.Condition(lock)
        self._closed = False
        self.stats = BatchStats()
        # With express_max_size, one more worker (the express worker) takes only the small lanes: those with at
        # most that many items queued and in progress (a light caller's), which the other workers leave to it. A
        # light caller's text then waits for no batch in progress (a batch is not preempted), only for the cores;
        # and with bulk_nice the other workers' threads run at that lower CPU priority (os.setpriority), so that on
        # busy cores the express worker's pass runs first.
        self._express_max = min(max_size, express_max_size)
        self._bulk_nice = bulk_nice if self._express_max else 0
        self._lane_running: dict[str, int] = {}  # items of each lane inside fn now
        self._express_busy = False
        self._filling = 0  # workers waiting for their batch to fill (max_wait_s)
        count = max(1, workers) + (1 if self._express_max else 0)
        self._threads = [
            threading.Thread(target=self._run, args=(bool(self._express_max) and i == count - 1,),
                             name=f"batcher-{name}-{i}", daemon=True)
            for i in range(count)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def queue_depth(self) -> int:
        return self._queued_items

    async def submit(self, items: Sequence[T], weights: Sequence[int] | None = None, lane: str = "") -> list[R]:
        if not items:
            return []
        lane = f"{lane}{_SEP}{CALLER.get()}"  # the caller's own queue within its tenant's share
        loop = asyncio.get_running_loop()
        job: Job[T, R] = Job(list(items), list(weights or [1] * len(items)), loop, loop.create_future(), lane,
                               [None] * len(items), background=BACKGROUND.get())
        with self._cond:
            if not job.background:
                self._interactive_at = time.monotonic()
            if self._closed:
                raise Unavailable(f"the {self.name} stage is shutting down")
            queued = self._lane_items.get(lane, 0)
            fair = queued + len(items) <= self._share(lane)
            total = self._queued_items + len(items)
            others = any(name != lane for name in self._lane_items)  # other lanes wait: the busy one gets 429
            # A caller within its share is let in past the bound (up to twice it): a tenant alone could fill the
            # whole queue, and the others would then get 503 while it gets 429 only from now on.
            busy = bool(queued) and not fair  # this caller's queued work passes its share
            crowded = total > self._max_queued and not (fair and total <= 2 * self._max_queued)
            if self._queued_items and crowded and not (busy and others):
                raise Overloaded(f"the {self.name} queue is full; retry shortly", retry_after=1.0)
            if busy:
                raise RateLimited(f"this caller's queued work passes its share of the {self.name} queue; "
                                  "retry shortly", retry_after=1.0)
            self._lanes.setdefault(lane, deque()).append(job)
            self._lane_items[lane] = queued + len(items)
            self._queued_items += len(items)
            self._wake()
        try:
            return await job.future
        except asyncio.CancelledError:  # the caller gave up (request time limit, disconnect)
            with self._cond:
                job.failed = True  # a slice already in the model finishes; the rest is dropped now
                queue = self._lanes.get(job.lane)
                if queue is not None and job in queue:
                    queue.remove(job)
                    self._forget(job.lane, len(job.items) - job.taken)
            raise

    def _share(self, lane: str) -> float:
        """The lane's share of the queue bound, among the lanes with work queued (itself included)."""
        active = [name for name in self._lanes if self._lane_items.get(name) and name != lane]
        weights = self._weights([*active, lane])
        return self._max_queued * weights[lane] / sum(weights.values())

    def _weights(self, lanes: list[str]) -> dict[str, float]:
        """Each lane's weight among ``lanes``: its tenant's (``lane_weight``) split evenly among the tenant's lanes
        there."""
        tenants = [lane.partition(_SEP)[0] for lane in lanes]
        return {lane: self._lane_weight(tenant) / tenants.count(tenant)
                for lane, tenant in zip(lanes, tenants, strict=True)}

    def _forget(self, lane: str, count: int) -> None:
        """``count`` items of ``lane`` leave the queue (taken, or abandoned)."""
        self._queued_items -= count
        left = self._lane_items.get(lane, 0) - count
        if left > 0 and self._lanes.get(lane):
            self._lane_items[lane] = left
        else:
            self._lane_items.pop(lane, None)
            self._lanes.pop(lane, None)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            self._express_cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=10)

    def _lanes_for(self, express: bool) -> list[str]:
        """The lanes a worker takes from, in round-robin order. Without an express worker, or once closed (to
        drain), all of them. The express worker takes only the small lanes (at most its batch queued and in
        progress). The other workers leave those to it, unless they hold more than its next batch, or nothing
        else waits while it is busy (two light callers at once, on idle cores)."""
        lanes = list(self._lanes)
        if not self._express_max or self._closed:
            return lanes
        small = [lane for lane in lanes
                 if self._lane_items.get(lane, 0) + self._lane_running.get(lane, 0) <= self._express_max]
        if express:
            return small
        if sum(self._lane_items.get(lane, 0) for lane in small) > self._express_max:
            return lanes
        busy = [lane for lane in lanes if lane not in small]
        return busy or (small if self._express_busy else [])

    def _waiting(self, express: bool) -> int:
        """The queued items the express worker (or one of the others) may take."""
        return sum(self._lane_items.get(lane, 0) for lane in self._lanes_for(express))

    def _wake(self) -> None:
        """After the queue or the running batches changed (lock held): wake one express and one other worker, each
        only if it could start a batch now; all of them while one waits for its batch to fill. The other workers
        wait for the same thing, so one of them suffices, and it wakes the next if it leaves work behind. Waking
        them all at every request cost the event loop a tenth of its time on 2 busy cores: a woken thread
        preempted it while it held the interpreter lock."""
        if self._filling:
            self._cond.notify_all()
            self._express_cond.notify_all()
            return
        if self._express_max and self._waiting(True):
            self._express_cond.notify()
        ready = self._waiting(False)
        if ready and (not self._bulk_running() or ready >= self._join_min):
            self._cond.notify()

    def _take_batch(self, express: bool) -> list[tuple[Job[T, R], int, int]] | None:
        """Slices (job, start, end) forming the worker's next batch; None when closed and drained."""
        limit, join_min = (self._express_max, 1) if express else (self._max_size, self._join_min)
        with self._cond:
            # A worker joins one already running only for at least join_min items: a second pass over a handful of
            # texts would halve the batches without adding work done (the cores are already busy). The express
            # worker takes any light work at once, and its own batch (a light caller's) keeps no one waiting.
            cond = self._express_cond if express else self._cond
            ready = self._waiting(express)
            while not self._closed and (not ready or (self._bulk_running() and ready < join_min)):
                cond.wait()
                ready = self._waiting(express)
            if not self._queued_items or (self._closed and not ready):  # what is left, another worker drains
                return None
            deadline = time.monotonic() + self._max_wait_s
            while self._queued_items < limit and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._filling += 1
                try:
                    cond.wait(remaining)
                finally:
                    self._filling -= 1
            batch = self._fill(limit, self._lanes_for(express))
            if batch:
                self._running += 1
                self._express_busy = self._express_busy or express
            if self._queued_items:  # work left over: another worker may take it
                self._wake()
            return batch

    def _bulk_running(self) -> int:
        """Batches in progress on the workers other than the express one."""
        return self._running - (1 if self._express_busy else 0)

    def _fill(self, limit: int, eligible: list[str]) -> list[tuple[Job[T, R], int, int]]:
        """Round-robin over the ``eligible`` lanes: each gives up to its weighted quantum per turn until the batch
        is full."""
        batch: list[tuple[Job[T, R], int, int]] = []
        size = weight = 0
        full = False
        interactive = time.monotonic() - self._interactive_at < self._interactive_window_s
        cap = self._background_max_weight if self._background_max_weight and interactive else None
        while not full:
            lanes = [lane for lane in self._lanes if lane in eligible]
            if not lanes:
                break
            weights = self._weights(lanes)
            total = sum(weights.values())
            progressed = False
            for lane in lanes:
                quantum = max(1, int(limit * weights[lane] / total))  # rounded down: the next turn fills up
                taken, weight, full = self._take_from(lane, quantum, size, weight, batch, cap, limit)
                size += taken
                progressed = progressed or taken > 0
                if lane in self._lanes:
                    self._lanes.move_to_end(lane)  # its turn is over: the next batch starts with the others
                if full or size >= limit:
                    full = True
                    break
            if not progressed:
                break
        return batch

    def _take_from(self, lane: str, quantum: int, size: int, weight: int,
                   batch: list[tuple[Job[T, R], int, int]], cap: int | None, limit: int) -> tuple[int, int, bool]:
        """Up to ``quantum`` items of ``lane``'s jobs into ``batch`` (which holds ``size`` items of ``weight``),
        a background job's only while the batch's weight stays under ``cap`` (None: no cap), the batch at most
        ``limit`` items; returns (items taken, the batch's weight, whether the batch is full)."""
        queue = self._lanes[lane]
        taken = 0
        while queue and taken < quantum:
            job = queue[0]
            if job.failed:  # an earlier slice failed or the caller gave up: nobody wants the rest
                queue.popleft()
                self._forget(lane, len(job.items) - job.taken)
                if lane not in self._lanes:
                    break
                continue
            start = end = job.taken
            full = capped = False
            while end < len(job.items) and taken < quantum:
                if size + taken >= limit or (size + taken and weight + job.weights[end] > self._max_weight):
                    full = True
                    break
                if job.background and cap is not None and size + taken and weight + job.weights[end] > cap:
                    capped = True  # the batch is not full: other lanes' interactive items may still join it
                    break
                weight += job.weights[end]
                end += 1
                taken += 1
            if end > start:
                batch.append((job, start, end))
                job.taken = end
                self._lane_running[lane] = self._lane_running.get(lane, 0) + end - start
            if end == len(job.items):
                queue.popleft()
            self._forget(lane, end - start)
            if full or size + taken >= limit:
                return taken, weight, True
            if capped or lane not in self._lanes:
                break
        return taken, weight, False

    def _run(self, express: bool) -> None:
        if self._bulk_nice and not express:  # this thread only (Linux), and the threads it starts (torch's pool)
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(),
                               os.getpriority(os.PRIO_PROCESS, 0) + self._bulk_nice)
        while True:
            batch = self._take_batch(express)
            if batch is None:
                return
            if not batch:  # every queued job had been abandoned
                continue
            items = [item for job, s, e in batch for item in job.items[s:e]]
            started = time.perf_counter()
            try:
                # In the first caller's context (a copy: one job's slices may run on two workers at once), so that
                # what the stage does (a remote engine's client span, its traceparent) joins that caller's trace.
                fn = self._express_fn if express else self._fn
                results = list(batch[0][0].context.copy().run(fn, items))
                error: BaseException | None = None
            except BaseException as exc:  # handed to every waiting caller, never lost
                results, error = [], exc
            elapsed = time.perf_counter() - started
            if self._on_batch is not None:
                self._on_batch(len(items), elapsed)
            with self._cond:  # several workers may finish slices of one job, in any order
                self.stats.batches += 1
                self.stats.items += len(items)
                self.stats.last_batch_size = len(items)
                self.stats.sizes.append(len(items))
                self._running -= 1
                self._express_busy = self._express_busy and not express
                offset = 0
                for job, s, e in batch:
                    n = e - s
                    if (running := self._lane_running.get(job.lane, 0) - n) > 0:
                        self._lane_running[job.lane] = running
                    else:
                        self._lane_running.pop(job.lane, None)
                    if error is not None:
                        job.failed = True
                        job.finish(error)
                        continue
                    job.results[s:e] = results[offset : offset + n]
                    offset += n
                    job.done += n
                    if job.done == len(job.items):
                        job.finish(None)
                self._wake()  # with the lanes' running counts updated: a worker waiting to join may now start
