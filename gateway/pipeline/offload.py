"""Work that grows with the request runs on a worker thread, not the event loop.

One event loop serves every request of a gateway process. A synchronous step whose cost grows with the request
(normalizing 2,048 texts, protecting 2,048 vectors, building their JSON, chunking an ingest, sealing and writing
its chunks) stalls every other request while it runs: measured on 2 cores, a /healthz probe waited up to 142 ms
behind one 2,048-text embeddings request and up to 202 ms behind one 64-document ingest. On a thread the step
still needs the GIL, but the loop gets it back at every switch interval (5 ms), and numpy's kernels and
SQLite release it. A small step stays on the loop, where it costs less than the hop to a thread (about 0.1 ms).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

# From these sizes on, a step goes to a thread: about a millisecond of work or more.
MIN_ROWS = 16  # vectors to protect, texts to decide on, embeddings to serialize (noise: ~40 us a vector)
MIN_CHARS = 16_384  # characters to normalize or chunk


async def off_loop(when: bool, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``fn(*args, **kwargs)``: on a worker thread ``when`` it is worth a hop (a large step, or a read that crosses
    the network to PostgreSQL), else right here on the loop."""
    if not when:
        return fn(*args, **kwargs)
    return await asyncio.to_thread(fn, *args, **kwargs)


def rows_big(count: int) -> bool:
    return count >= MIN_ROWS


def chars_big(texts: Sequence[str]) -> bool:
    return sum(len(t) for t in texts) >= MIN_CHARS
