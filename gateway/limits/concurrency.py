"""Per-key concurrency limit: one API key cannot hold more than N requests in flight; and ``Slots``, the count of
one kind of costly work in progress (uploads, batch creations), per process and per tenant.

A rate limit bounds requests per minute; it does not stop one key from opening hundreds of slow requests at once
and starving every other caller of the model. The limit is read at each request (a setting), so tests and
operators can change it without rebuilding anything.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from gateway.errors import RateLimited

T = TypeVar("T")


class KeyConcurrency:
    def __init__(self) -> None:
        self._in_flight: dict[str, int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def slot(self, key: str, limit: int) -> Iterator[None]:
        """Hold one of the key's ``limit`` slots for the body of the ``with``; 0 or less means unlimited."""
        with self._lock:
            held = self._in_flight.get(key, 0)
            if 0 < limit <= held:
                raise RateLimited(f"more than {limit} concurrent requests for this API key", retry_after=1.0)
            self._in_flight[key] = held + 1
        try:
            yield
        finally:
            with self._lock:
                left = self._in_flight[key] - 1
                if left:
                    self._in_flight[key] = left
                else:
                    del self._in_flight[key]  # bounded memory: only keys with requests in flight are kept

    def in_flight(self, key: str) -> int:
        with self._lock:
            return self._in_flight.get(key, 0)

    def total(self) -> int:
        """Requests in flight over all keys (the job runner waits while there are any: interactive work first)."""
        with self._lock:
            return sum(self._in_flight.values())


class Slots:
    """How many of one kind of costly work (``what``: uploads, batch creations) may be in progress at once:
    ``most`` in this process, ``per_tenant`` for one tenant (its keys share them, so a per-key count would add
    nothing). Used on the event loop only (no lock needed); ``take`` refuses at once, 429 naming the setting, rather
    than queueing: each holds up to a file's size in memory."""

    RETRY_AFTER_S = 5.0

    def __init__(self, most: int, per_tenant: int, what: str = "uploads",
                 most_setting: str = "files_max_concurrent_uploads",
                 tenant_setting: str = "files_max_tenant_uploads") -> None:
        self.most, self.per_tenant = most, per_tenant
        self._what, self._most_setting, self._tenant_setting = what, most_setting, tenant_setting
        self._held: dict[str, int] = {}

    def take(self, tenant: str) -> None:
        if sum(self._held.values()) >= self.most:
            raise RateLimited(f"too many {self._what} in progress ({self._most_setting} is {self.most}); "
                              "retry later", retry_after=self.RETRY_AFTER_S)
        if self._held.get(tenant, 0) >= self.per_tenant:
            raise RateLimited(f"too many {self._what} in progress for this tenant ({self._tenant_setting} is "
                              f"{self.per_tenant}); retry later", retry_after=self.RETRY_AFTER_S)
        self._held[tenant] = self._held.get(tenant, 0) + 1

    def give(self, tenant: str) -> None:
        left = self._held.get(tenant, 0) - 1
        if left > 0:
            self._held[tenant] = left
        else:
            self._held.pop(tenant, None)

    async def run(self, tenant: str, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a worker thread, for work under one of ``tenant``'s slots. A caller that stops waiting
        (the request's time limit, a hang-up) gives its slot back as it leaves, but the thread still holds what the
        slot bounds (the file): the count stays up by one more hold until the thread ends."""
        work = asyncio.ensure_future(asyncio.to_thread(fn, *args))
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            if not work.done():
                self._held[tenant] = self._held.get(tenant, 0) + 1
                work.add_done_callback(lambda task: self._ended(tenant, task))
            raise

    def _ended(self, tenant: str, task: asyncio.Future[Any]) -> None:
        self.give(tenant)
        if not task.cancelled():
            task.exception()  # no one awaits it any more: read, so it is not reported as never retrieved

    def held(self, tenant: str | None = None) -> int:
        return sum(self._held.values()) if tenant is None else self._held.get(tenant, 0)
