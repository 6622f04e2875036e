"""What the micro-batcher (``gateway.pipeline.batching``) queues: a caller's job, who submitted it, and the
batcher's counts."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections import deque
from dataclasses import dataclass, field
from typing import Generic, TypeVar, cast

BACKGROUND: contextvars.ContextVar[bool] = contextvars.ContextVar("background_work", default=False)
"""True inside a durable job's work (set by ``gateway.jobs.runner``): its items are background work, whose share
of a batch is kept small while interactive work arrives (``MicroBatcher``'s ``background_max_weight``)."""

CALLER: contextvars.ContextVar[str] = contextvars.ContextVar("batch_caller", default="")
"""Who submits within the tenant (an API key's id, a token's subject), set by ``gateway.http.guard`` for the
request's handling: each caller's work waits in a queue of its own."""

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Job(Generic[T, R]):
    """One ``submit`` call's items, handed to batches in slices, and the future its caller awaits."""

    items: list[T]
    weights: list[int]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[list[R]]
    lane: str
    results: list[R | None]  # by position, filled as slices finish
    context: contextvars.Context = field(default_factory=contextvars.copy_context)  # the submitter's (its trace)
    taken: int = 0  # items handed to batches so far
    done: int = 0  # how many items' results are in
    failed: bool = False
    background: bool = False  # a durable job's work (``BACKGROUND``)

    def finish(self, error: BaseException | None) -> None:
        """Resolve the caller's future with the results or ``error``, on the caller's loop (from a worker thread)."""
        def resolve() -> None:
            if self.future.done():
                return
            if error is not None:
                self.future.set_exception(error)
            else:
                self.future.set_result(cast(list[R], self.results))

        # A closed caller loop means nobody is waiting any more; the worker thread must survive it.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(resolve)


@dataclass
class BatchStats:
    batches: int = 0
    items: int = 0
    last_batch_size: int = 0
    sizes: deque[int] = field(default_factory=lambda: deque(maxlen=1024))
