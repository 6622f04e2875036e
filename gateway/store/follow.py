"""Keeping a process's in-memory FAISS indexes current from the shared change sequence (either backend).

``indexes.catch_up`` applies a collection's changes after the index's ``applied_seq``: vectors this process
just wrote come from memory, others are read and decrypted. ``ReplicaSync`` remembers which collections this
process has loaded and, on each wakeup (a PostgreSQL NOTIFY, or a poll of either backend's sequence), finds with
one query which of them changed (``changed``, the backend's ``store_sync``) and catches those up. The lag it
measures (commit of a change to its application here) is what ``docs/postgres.md`` and ``docs/operations.md``
report. Writers call ``apply`` with their own vectors before returning, so a process's own writes are in its
index at once, and whatever other processes committed before them is applied first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping

import numpy as np

from gateway.store.base import Collection
from gateway.store.faiss_index import VectorIndex
from gateway.store.indexes import ChangesPruned, IndexManager, VectorSource, catch_up

Key = tuple[str, str]
# changed(floor): (tenant, collection, highest seq) of every collection with a change above ``floor``.
Changed = Callable[[int], Iterable[tuple[str, str, int]]]


class ReplicaSync:
    """The loaded collections of this process, and the refresh that the change listener calls."""

    def __init__(
        self, changed: Changed, source: VectorSource, indexes: IndexManager, clock: Callable[[], float] = time.time
    ) -> None:
        self._changed = changed
        self._source = source
        self._indexes = indexes
        self._clock = clock
        self._loaded: dict[Key, Collection] = {}
        self._lock = threading.Lock()
        self.refreshes = 0
        self.applied_changes = 0
        self.reloads = 0  # indexes reloaded because the changes they needed had been pruned
        self.last_refresh_at = 0.0

    def index(self, c: Collection) -> VectorIndex:
        """The live index of ``c``; a stale one (the collection was dropped and recreated) is reloaded."""
        key = (c.tenant, c.name)
        with self._lock:
            seen = self._loaded.get(key)
            self._loaded[key] = c
        if seen is not None and seen.created_at != c.created_at:
            self._indexes.invalidate(*key)
        return self._indexes.get(c)

    def forget(self, tenant: str, name: str) -> None:
        with self._lock:
            self._loaded.pop((tenant, name), None)
        self._indexes.drop(tenant, name)

    def apply(self, c: Collection, known: Mapping[int, np.ndarray] | None = None) -> None:
        """Catch ``c``'s index up (the caller may hold the collection lock; it is re-entrant)."""
        with self._indexes.lock(c.tenant, c.name):
            index = self._indexes.get(c)
            before = index.applied_seq
            try:
                current = catch_up(self._source, c, index, known)
            except ChangesPruned:  # this process fell behind the retention: reload from the snapshot on next use
                self._indexes.invalidate(c.tenant, c.name)
                self.reloads += 1
                return
            except Exception:
                self._indexes.invalidate(c.tenant, c.name)  # reload and replay on next use
                raise
            if not current:
                self.forget(c.tenant, c.name)
            elif index.applied_seq != before:
                self.applied_changes += 1
        self._indexes.schedule(c)

    def refresh(self) -> None:
        """Catch up every loaded collection that has changes this process has not applied."""
        with self._lock:
            loaded = dict(self._loaded)
        self.refreshes += 1
        self.last_refresh_at = self._clock()
        if not loaded:
            return
        floor = min(self._indexes.get(c).applied_seq for c in loaded.values())
        for tenant, name, top in self._changed(floor):
            c = loaded.get((tenant, name))
            if c is not None and self._indexes.get(c).applied_seq < int(top):
                self.apply(c)
