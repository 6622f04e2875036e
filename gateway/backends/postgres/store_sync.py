"""Keeping a replica's in-memory FAISS indexes current from the shared change sequence.

``indexes.catch_up`` applies a collection's changes after the index's ``applied_seq``: vectors this replica
just wrote come from memory, others are read and decrypted. ``ReplicaSync`` remembers which collections this
replica has loaded and, on each wakeup (NOTIFY or poll), finds with one query which of them changed and
catches those up; the lag it measures (commit of a change to its application here) is what
``docs/postgres.md`` reports.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

import numpy as np

from gateway.backends.postgres.connection import PgDatabase
from gateway.store.base import Collection
from gateway.store.faiss_index import VectorIndex
from gateway.store.indexes import ChangesPruned, IndexManager, VectorSource, catch_up

Key = tuple[str, str]


class ReplicaSync:
    """The loaded collections of this replica, and the refresh that the change listener calls."""

    def __init__(
        self, db: PgDatabase, source: VectorSource, indexes: IndexManager, clock: Callable[[], float] = time.time
    ) -> None:
        self._db = db
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
            except ChangesPruned:  # this replica fell behind the retention: reload from the snapshot on next use
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
        """Catch up every loaded collection that has changes this replica has not applied."""
        with self._lock:
            loaded = dict(self._loaded)
        self.refreshes += 1
        self.last_refresh_at = self._clock()
        if not loaded:
            return
        floor = min(self._indexes.get(c).applied_seq for c in loaded.values())
        with self._db.transaction() as conn:
            rows = conn.execute(
                "SELECT tenant, collection, max(seq) FROM store_changes WHERE seq > %s GROUP BY tenant, collection",
                (floor,),
            ).fetchall()
        for tenant, name, top in rows:
            c = loaded.get((tenant, name))
            if c is not None and self._indexes.get(c).applied_seq < int(top):
                self.apply(c)
