"""Background work (batch lines, ingest-job documents) waits out a transient refusal instead of answering it.

A refusal is transient when the gateway says so: a full queue (``Overloaded``: interactive traffic comes first), a
short quota wait (``RateLimited`` whose Retry-After fits in the waits left; a spent daily quota does not), or an
``Unavailable`` that carries a Retry-After (a PII worker that died while screening, no worker free in time, the
database away for a moment), or a remote model's ``ModelUnavailable`` with its Retry-After (its engine restarting,
its circuit breaker open for 10 s: without this, a batch on a remote model turned every line into a 503 line within
seconds of an engine's restart). Anything else is the item's answer at once. The waits are bounded: after the last
one the refusal is the answer, so an item is never retried into a loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from gateway.errors import ModelUnavailable, Overloaded, RateLimited, RequestError, Unavailable

T = TypeVar("T")

WAITS_S = (0.5, 1.0, 2.0, 4.0, 8.0)


def transient(exc: RequestError, waits_left_s: float) -> bool:
    """Whether an item refused with ``exc`` is worth trying again within ``waits_left_s``."""
    if isinstance(exc, RateLimited):
        return exc.retry_after is not None and exc.retry_after <= waits_left_s
    if isinstance(exc, Overloaded):
        return True
    return isinstance(exc, Unavailable | ModelUnavailable) and exc.retry_after is not None


async def waiting_out(call: Callable[[], Awaitable[T]], waits_s: tuple[float, ...] | None = None) -> T:
    """``call()``, tried again after each of ``waits_s`` (default ``WAITS_S``) while it is refused transiently."""
    waits = WAITS_S if waits_s is None else waits_s
    for n, wait in enumerate(waits):
        try:
            return await call()
        except RequestError as exc:
            if not transient(exc, sum(waits[n:])):
                raise
        await asyncio.sleep(wait)
    return await call()
