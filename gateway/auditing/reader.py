"""The audit log's reads as coroutines, for the use cases that serve them on the event loop.

On PostgreSQL every read of the shared log is a transaction of network round trips (taking in what other
replicas appended), which on the loop would stall every other request: there each read runs on a worker
thread. The embedded log answers from its in-memory tree and a local file in microseconds, cheaper than the
hop to a thread, so there it stays on the loop (``gateway.pipeline.offload.off_loop``).
"""

from __future__ import annotations

from audit.backend import AuditLogBackend
from gateway.pipeline.offload import off_loop


class AuditReader:
    """The read side of an ``AuditLogBackend``; ``remote`` when the log is in a database across the network."""

    def __init__(self, log: AuditLogBackend, *, remote: bool) -> None:
        self._log = log
        self._remote = remote

    async def size(self) -> int:
        return await off_loop(self._remote, self._log.size)

    async def entries(self, start: int, end: int) -> list[bytes]:
        return await off_loop(self._remote, self._log.entries, start, end)

    async def entry_tenant(self, index: int) -> str | None:
        return await off_loop(self._remote, self._log.entry_tenant, index)

    async def latest_checkpoint(self) -> str | None:
        return await off_loop(self._remote, self._log.latest_checkpoint)

    async def checkpoint_now(self) -> str:
        return await off_loop(self._remote, self._log.checkpoint_now)

    async def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        return await off_loop(self._remote, self._log.inclusion_proof, index, tree_size)

    async def consistency_proof(self, first: int, second: int) -> list[bytes]:
        return await off_loop(self._remote, self._log.consistency_proof, first, second)
