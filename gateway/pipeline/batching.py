"""Dynamic micro-batching: coalesce concurrent requests into model batches, off the event loop.

Callers ``await batcher.submit(items, weights)``; a worker thread takes whatever is queued, up to ``max_size``
items and ``max_weight`` (tokens), waiting at most ``max_wait_s`` for more to arrive, runs ``fn`` once on the whole
batch and hands each caller its slice. With ``workers`` above 1, that many threads take batches side by side (the
model releases the GIL in its kernels, so on a CPU two single-threaded forward passes do more than one using both
cores; see ``gateway.embedding.embedder``). A worker joins others already running only for at least ``join_min`` items
(the service asks for a quarter of a forward pass), so that the workers do not split the queue into slivers.

The queue is bounded: when it is full, ``submit`` raises ``Overloaded`` at once (the HTTP layer answers 503 with
Retry-After) instead of growing memory without bound. A caller that waits beyond its request's time limit is
cancelled (``gateway.http.guard`` answers 504); its items not yet handed to a batch are then dropped, so a
backlog of abandoned work does not keep the model busy after an overload.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar, cast

from gateway.errors import Overloaded, Unavailable

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Job(Generic[T, R]):
    items: list[T]
    weights: list[int]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[list[R]]
    results: list[R | None]  # by position, filled as slices finish
    taken: int = 0  # items handed to batches so far
    done: int = 0  # how many items' results are in
    failed: bool = False


@dataclass
class BatchStats:
    batches: int = 0
    items: int = 0
    last_batch_size: int = 0
    sizes: deque[int] = field(default_factory=lambda: deque(maxlen=1024))


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
    ) -> None:
        self._fn = fn
        self.name = name
        self._max_size = max_size
        self._max_weight = max_weight
        self._max_wait_s = max_wait_s
        self._max_queued = max_queued_items
        self._join_min = join_min
        self._running = 0  # workers inside fn
        self._on_batch = on_batch
        self._queue: deque[_Job[T, R]] = deque()
        self._queued_items = 0
        self._cond = threading.Condition()
        self._closed = False
        self.stats = BatchStats()
        self._threads = [
            threading.Thread(target=self._run, name=f"batcher-{name}-{i}", daemon=True) for i in range(max(1, workers))
        ]
        for thread in self._threads:
            thread.start()

    @property
    def queue_depth(self) -> int:
        return self._queued_items

    async def submit(self, items: Sequence[T], weights: Sequence[int] | None = None) -> list[R]:
        if not items:
            return []
        loop = asyncio.get_running_loop()
        job: _Job[T, R] = _Job(list(items), list(weights or [1] * len(items)), loop, loop.create_future(),
                               [None] * len(items))
        with self._cond:
            if self._closed:
                raise Unavailable(f"the {self.name} stage is shutting down")
            if self._queued_items and self._queued_items + len(items) > self._max_queued:
                raise Overloaded(f"the {self.name} queue is full; retry shortly", retry_after=1.0)
            self._queue.append(job)
            self._queued_items += len(items)
            self._cond.notify()
        try:
            return await job.future
        except asyncio.CancelledError:  # the caller gave up (request time limit, disconnect)
            with self._cond:
                job.failed = True  # a slice already in the model finishes; the rest is dropped now
                if job in self._queue:
                    self._queue.remove(job)
                    self._queued_items -= len(job.items) - job.taken
            raise

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=10)

    def _take_batch(self) -> list[tuple[_Job[T, R], int, int]] | None:
        """Slices (job, start, end) forming the next batch; None when closed and drained."""
        with self._cond:
            # A worker joins one already running only for at least join_min items: a second pass over a handful of
            # texts would halve the batches without adding work done (the cores are already busy).
            while not self._closed and (
                not self._queue or (self._running and self._queued_items < self._join_min)
            ):
                self._cond.wait()
            if not self._queue:
                return None
            deadline = time.monotonic() + self._max_wait_s
            while self._queued_items < self._max_size and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            batch: list[tuple[_Job[T, R], int, int]] = []
            size = weight = 0
            while self._queue and size < self._max_size:
                job = self._queue[0]
                if job.failed:  # an earlier slice failed or the caller gave up: nobody wants the rest
                    self._queue.popleft()
                    self._queued_items -= len(job.items) - job.taken
                    continue
                start = end = job.taken
                while end < len(job.items) and size < self._max_size:
                    w = job.weights[end]
                    if size and weight + w > self._max_weight:
                        break
                    size += 1
                    weight += w
                    end += 1
                if end > start:
                    batch.append((job, start, end))
                    job.taken = end
                if end < len(job.items):
                    break
                self._queue.popleft()
            self._queued_items -= size
            if batch:
                self._running += 1
            if self._queue:  # work left over: another worker may take it
                self._cond.notify()
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take_batch()
            if batch is None:
                return
            if not batch:  # every queued job had been abandoned
                continue
            items = [item for job, s, e in batch for item in job.items[s:e]]
            started = time.perf_counter()
            try:
                results = list(self._fn(items))
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
                self._cond.notify_all()  # a worker waiting to join may now start alone
                offset = 0
                for job, s, e in batch:
                    n = e - s
                    if error is not None:
                        job.failed = True
                        self._finish(job, error)
                        continue
                    job.results[s:e] = results[offset : offset + n]
                    offset += n
                    job.done += n
                    if job.done == len(job.items):
                        self._finish(job, None)

    @staticmethod
    def _finish(job: _Job[T, R], error: BaseException | None) -> None:
        def resolve() -> None:
            if job.future.done():
                return
            if error is not None:
                job.future.set_exception(error)
            else:
                job.future.set_result(cast(list[R], job.results))

        # A closed caller loop means nobody is waiting any more; the worker thread must survive it.
        with contextlib.suppress(RuntimeError):
            job.loop.call_soon_threadsafe(resolve)
