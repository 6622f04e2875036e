"""The live FAISS index of every open collection, kept in step with the records.

Backend-neutral: a backend hands over a ``VectorSource`` (its decrypted vectors and its change sequence).
An index is loaded on first use: from its encrypted snapshot plus a replay of the changes recorded after
it, or, when the snapshot is missing or does not open, rebuilt from the decrypted vectors. Writers hold the
collection's lock, commit, then apply the same change to the live index. Rebuilds (IVF training, HNSW
tombstone purges) and snapshots run on a background executor: a rebuild reads the records as of some change
seq, builds the new index without any lock, then under the collection lock replays what changed meanwhile
and swaps it in. Searches never wait for any of it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from gateway.errors import DecryptionFailed
from gateway.store.base import Collection
from gateway.store.faiss_index import IndexSettings, VectorIndex
from gateway.store.snapshots import SnapshotFiles

log = logging.getLogger(__name__)
Key = tuple[str, str]


@dataclass(frozen=True)
class Change:
    """One entry of a backend's change sequence: a chunk added or removed, or the collection dropped."""

    seq: int
    op: str  # "add" | "remove" | "drop"
    chunk_id: int | None


class ChangesPruned(Exception):
    """Changes after the asked-for seq were deleted (a snapshot covers them): reload instead of replaying."""


class VectorSource(Protocol):
    def current_vectors(self, c: Collection) -> tuple[int, np.ndarray, np.ndarray]:
        """(latest change seq, chunk ids, vectors) of every readable chunk, read in one consistent view."""
        ...

    def changes_after(self, c: Collection, seq: int) -> list[Change]:
        """The collection's changes with a seq above ``seq``, in order; ``ChangesPruned`` if some are gone."""
        ...

    def vectors(self, c: Collection, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of those chunks that still exist and open."""
        ...

    def prune(self, c: Collection, seq: int) -> None:
        """A snapshot now covers the collection's changes up to ``seq``: they may be forgotten (or kept)."""
        ...


def catch_up(
    source: VectorSource, c: Collection, index: VectorIndex, known: Mapping[int, np.ndarray] | None = None
) -> bool:
    """Apply the changes after ``index.applied_seq``; False when the collection was dropped (forget the index).

    Vectors in ``known`` (a replica's own writes, by chunk id) are taken from memory, the others are read.
    """
    changes = source.changes_after(c, index.applied_seq)
    if not changes:
        return True
    if any(change.op == "drop" for change in changes):
        return False
    added = {ch.chunk_id for ch in changes if ch.op == "add" and ch.chunk_id is not None}
    removed = {ch.chunk_id for ch in changes if ch.op == "remove" and ch.chunk_id is not None}
    last = changes[-1].seq
    # Chunk ids are never reused, so only the net effect matters.
    index.remove(np.array(sorted(removed - added), dtype=np.int64), last)
    wanted = sorted(added - removed)
    known = known or {}
    ids, vectors = source.vectors(c, [i for i in wanted if i not in known])
    own = [i for i in wanted if i in known]
    if own:
        ids = np.concatenate([np.asarray(own, dtype=np.int64), ids])
        vectors = np.vstack([np.asarray([known[i] for i in own], dtype=np.float32).reshape(-1, c.dimension), vectors])
    index.add(ids, vectors, last)
    return True


class IndexManager:
    def __init__(
        self,
        source: VectorSource,
        settings: IndexSettings,
        snapshots: SnapshotFiles | None,
        executor: Executor | None = None,
    ) -> None:
        self._source = source
        self._settings = settings
        self._snapshots = snapshots
        self._owns_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(1, thread_name_prefix="store-index")
        self._live: dict[Key, VectorIndex] = {}
        self._collections: dict[Key, Collection] = {}
        self._locks: dict[Key, threading.RLock] = {}
        self._registry = threading.Lock()
        self._pending: dict[tuple[str, Key], Future[None]] = {}
        self.rebuilds = 0
        self.snapshot_failures = 0
        self.loads_from_records = 0  # first uses that found no usable snapshot and built from the records

    def lock(self, tenant: str, name: str) -> threading.RLock:
        """The collection's write lock: held by every writer across commit and index update."""
        with self._registry:
            return self._locks.setdefault((tenant, name), threading.RLock())

    def get(self, c: Collection) -> VectorIndex:
        """The live index, loaded on first use."""
        key = (c.tenant, c.name)
        live = self._live.get(key)
        if live is not None:
            return live
        with self.lock(*key):
            live = self._live.get(key)
            if live is None:
                live = self._load(c)
                self._live[key] = live
                self._collections[key] = c
        self.schedule(c)
        return live

    def invalidate(self, tenant: str, name: str) -> None:
        """Forget the in-memory index (after a failed update): the next use reloads and replays."""
        with self.lock(tenant, name):
            self._live.pop((tenant, name), None)

    def drop(self, tenant: str, name: str) -> None:
        """The collection is gone: forget its index and delete its snapshot."""
        with self.lock(tenant, name):
            self._live.pop((tenant, name), None)
            self._collections.pop((tenant, name), None)
            if self._snapshots is not None:
                self._snapshots.delete(tenant, name)

    def schedule(self, c: Collection) -> None:
        """After a write: queue a rebuild or a snapshot when one is due."""
        index = self._live.get((c.tenant, c.name))
        if index is None:
            return
        if index.needs_rebuild():
            self._submit("rebuild", c)
        elif self._snapshots is not None and index.unsnapshotted >= self._settings.snapshot_every:
            self._submit("snapshot", c)

    def snapshot_now(self, c: Collection) -> None:
        """Write the collection's snapshot now (after a purge: the previous one still holds what was purged)."""
        self._snapshot(c)

    def flush(self) -> None:
        """Wait for queued rebuilds and snapshots (tests, shutdown)."""
        while True:
            with self._registry:
                pending = list(self._pending.values())
            if not pending:
                return
            wait(pending)

    def close(self) -> None:
        """Finish background work, then snapshot every index with unsaved changes."""
        self.flush()
        if self._owns_executor:
            self._executor.shutdown(wait=True)
        for key, c in list(self._collections.items()):
            index = self._live.get(key)
            if index is not None and index.unsnapshotted:
                self._snapshot(c)
        self._live.clear()
        self._collections.clear()

    def health(self) -> dict[str, Any]:
        return {
            "indexes_loaded": len(self._live),
            "vectors_indexed": sum(index.size for index in list(self._live.values())),
            "index_rebuilds": self.rebuilds,
            "index_background_pending": len(self._pending),
            "snapshot_failures": self.snapshot_failures,
            "index_loads_from_records": self.loads_from_records,
        }

    def _load(self, c: Collection) -> VectorIndex:
        if self._snapshots is not None:
            try:
                payload = self._snapshots.read(c)
                if payload is not None:
                    index = VectorIndex.from_bytes(payload, self._settings)
                    if index.kind == c.index_type and index.dimension == c.dimension and self._replay(c, index):
                        return index
            except (DecryptionFailed, ValueError):
                self.snapshot_failures += 1
                log.warning("an index snapshot did not open; rebuilding it from the records")
            except ChangesPruned:  # an older snapshot than the pruned changes (another replica's, overwritten)
                log.info("changes after an index snapshot were pruned; rebuilding it from the records")
        seq, ids, vectors = self._source.current_vectors(c)
        index = VectorIndex.build(c.index_type, c.dimension, self._settings, ids, vectors, seq)
        index.unsnapshotted = len(ids) + 1  # save it at the next chance
        self.loads_from_records += 1
        return index

    def _replay(self, c: Collection, index: VectorIndex) -> bool:
        """Bring ``index`` up to date; False when the collection was dropped meanwhile (rebuild instead)."""
        return catch_up(self._source, c, index)

    def _submit(self, kind: str, c: Collection) -> None:
        job = (kind, (c.tenant, c.name))
        with self._registry:
            if job in self._pending:
                return
            self._pending[job] = self._executor.submit(self._run, job, c)

    def _run(self, job: tuple[str, Key], c: Collection) -> None:
        try:
            if job[0] == "rebuild":
                self._rebuild(c)
            else:
                self._snapshot(c)
        except Exception:  # a background job must not die silently, nor take the store down
            log.exception("background index %s failed", job[0])
        finally:
            with self._registry:
                self._pending.pop(job, None)

    def _rebuild(self, c: Collection) -> None:
        key = (c.tenant, c.name)
        seq, ids, vectors = self._source.current_vectors(c)
        fresh = VectorIndex.build(c.index_type, c.dimension, self._settings, ids, vectors, seq)
        with self.lock(*key):
            if key not in self._live or not self._replay(c, fresh):
                return  # dropped (and perhaps recreated) meanwhile: the next use loads afresh
            fresh.unsnapshotted = fresh.size + 1
            self._live[key] = fresh
            self.rebuilds += 1
        if self._snapshots is not None:
            self._snapshot(c)

    def _snapshot(self, c: Collection) -> None:
        key = (c.tenant, c.name)
        with self.lock(*key):
            index = self._live.get(key)
            if index is None or self._snapshots is None:
                return
            self._snapshots.write(c, index.to_bytes(), index.applied_seq)
            index.unsnapshotted = 0
            self._source.prune(c, index.applied_seq)
