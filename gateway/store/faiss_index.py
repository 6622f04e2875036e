"""One collection's FAISS index: inner product on unit vectors, ids are the store's chunk row ids.

Layouts, by the collection's ``index_type``:

- ``flat``: ``IndexIDMap2(IndexFlatIP)``, exact. Removal is immediate.
- ``hnsw``: ``IndexIDMap2(IndexHNSWFlat(METRIC_INNER_PRODUCT))``. HNSW cannot remove, so a removed id becomes a
  tombstone that searches exclude with an ``IDSelector``; past ``tombstone_ratio`` the index asks to be rebuilt.
- ``ivf``: ``IndexIVFFlat(METRIC_INNER_PRODUCT)`` with the chunk ids as its own ids. Its coarse quantizer needs
  training data, so the index stays ``flat`` until the collection holds ``ivf_points_per_list * ivf_min_lists``
  vectors (FAISS warns below 39 points per list), then asks to be rebuilt as IVF; again after it grew
  ``ivf_retrain_growth`` times.

Building and training happen off to the side (``VectorIndex.build``) and the caller swaps the result in, so
searches keep running meanwhile. Searches share a readers-writer lock; an add or remove takes it alone.

Snapshot payload (encrypted by the caller), format 1::

    b"GSIX" | 0x01 | header length (uint32, big-endian) | header JSON | faiss.serialize_index bytes
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np

from gateway.store._rwlock import RWLock

_MAGIC = b"GSIX"
_FORMAT = 1
_HEAD = struct.Struct(">4sBI")


@dataclass(frozen=True)
class IndexSettings:
    """Tuning of the approximate indexes and of snapshot frequency; defaults suit 384-d sentence vectors."""

    hnsw_m: int = 32
    hnsw_ef_construction: int = 64
    hnsw_ef_search: int = 64
    ivf_points_per_list: int = 39
    ivf_min_lists: int = 16
    ivf_max_lists: int = 4096
    ivf_nprobe: int = 16
    ivf_retrain_growth: float = 4.0
    tombstone_ratio: float = 0.2
    snapshot_every: int = 1000  # changes to a collection between two snapshots
    # PostgreSQL: changes a snapshot covers are deleted once they are this old; a replica further behind than
    # that reloads the index from the snapshot instead of replaying (``gateway.backends.postgres.store_rows``).
    change_retention_s: float = 300.0
    # FAISS (OpenMP) threads for a search or add on the calling thread; OpenMP keeps this per thread, so it
    # touches no other library. One query of a few thousand vectors is ~10x slower spread over all cores, and
    # concurrent requests already use them. None: FAISS's default (all cores). Builds always use all cores.
    request_threads: int | None = 1

    @property
    def ivf_train_threshold(self) -> int:
        return self.ivf_points_per_list * self.ivf_min_lists

    def ivf_lists(self, n: int) -> int:
        """About 4 * sqrt(n) lists, never fewer than ``ivf_points_per_list`` training points each."""
        return max(
            self.ivf_min_lists,
            min(self.ivf_max_lists, int(4 * math.sqrt(n)), n // self.ivf_points_per_list),
        )


class VectorIndex:
    """A FAISS index plus what it needs around it: layout, tombstones, and the change seq it reflects."""

    def __init__(
        self,
        kind: str,
        dimension: int,
        settings: IndexSettings,
        *,
        layout: str | None = None,
        index: Any = None,
        tombstones: Iterable[int] = (),
        trained_at: int = 0,
        applied_seq: int = 0,
    ) -> None:
        self.kind = kind
        self.dimension = dimension
        self.settings = settings
        self.layout = layout or ("flat" if kind == "ivf" else kind)
        self._index = index if index is not None else _empty(self.layout, dimension, settings)
        self._tombstones: set[int] = set(tombstones)
        self._params: Any = None
        self._selectors: tuple[Any, ...] = ()
        self.trained_at = trained_at
        self.applied_seq = applied_seq
        self.unsnapshotted = 0  # changes since the last snapshot (or load)
        self._lock = RWLock()
        self._refresh_params()

    @classmethod
    def build(
        cls,
        kind: str,
        dimension: int,
        settings: IndexSettings,
        ids: np.ndarray,
        vectors: np.ndarray,
        applied_seq: int,
    ) -> VectorIndex:
        """A fresh index over ``vectors``: trains IVF when there are enough of them. Slow; runs off to the side."""
        n = len(ids)
        if kind == "ivf" and n >= settings.ivf_train_threshold:
            quantizer = faiss.IndexFlatIP(dimension)
            ivf = faiss.IndexIVFFlat(quantizer, dimension, settings.ivf_lists(n), faiss.METRIC_INNER_PRODUCT)
            ivf.train(vectors)
            ivf.nprobe = settings.ivf_nprobe
            built = cls(kind, dimension, settings, layout="ivf", index=ivf, trained_at=n, applied_seq=applied_seq)
        else:
            built = cls(kind, dimension, settings, applied_seq=applied_seq)
        if n:
            built._index.add_with_ids(vectors, ids)
        return built

    @property
    def capacity(self) -> int:
        """Vectors FAISS holds, tombstones included: the most a search can return."""
        return int(self._index.ntotal)

    @property
    def size(self) -> int:
        """Live vectors."""
        return self.capacity - len(self._tombstones)

    def add(self, ids: np.ndarray, vectors: np.ndarray, seq: int) -> None:
        self._limit_threads()
        with self._lock.write():
            if len(ids):
                self._index.add_with_ids(
                    np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(ids, dtype=np.int64)
                )
            self._advance(seq, len(ids))

    def remove(self, ids: np.ndarray, seq: int) -> None:
        with self._lock.write():
            if len(ids) and self.layout == "hnsw":
                self._tombstones.update(int(i) for i in ids)
                self._refresh_params()
            elif len(ids):
                self._index.remove_ids(np.ascontiguousarray(ids, dtype=np.int64))
            self._advance(seq, len(ids))

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Up to ``k`` (id, score) pairs, best first."""
        self._limit_threads()
        with self._lock.read():
            k = min(k, self.capacity)
            if k <= 0:
                return []
            query = vector.reshape(1, -1)
            scores, ids = self._index.search(query, k, params=self._params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def needs_rebuild(self) -> bool:
        s = self.settings
        if self.kind == "ivf" and self.layout == "flat":
            return self.size >= s.ivf_train_threshold
        if self.layout == "ivf":
            return self.size >= s.ivf_retrain_growth * max(self.trained_at, 1)
        return bool(self._tombstones) and len(self._tombstones) >= s.tombstone_ratio * self.capacity

    def to_bytes(self) -> bytes:
        """The snapshot payload; the caller encrypts it."""
        with self._lock.read():
            header = {
                "kind": self.kind,
                "layout": self.layout,
                "dimension": self.dimension,
                "applied_seq": self.applied_seq,
                "trained_at": self.trained_at,
                "tombstones": sorted(self._tombstones),
            }
            body = faiss.serialize_index(self._index).tobytes()
        head = json.dumps(header, separators=(",", ":")).encode()
        return _HEAD.pack(_MAGIC, _FORMAT, len(head)) + head + body

    @classmethod
    def from_bytes(cls, data: bytes, settings: IndexSettings) -> VectorIndex:
        """Inverse of ``to_bytes``; ``ValueError`` for anything malformed."""
        try:
            magic, fmt, length = _HEAD.unpack_from(data)
            if magic != _MAGIC or fmt != _FORMAT:
                raise ValueError("not an index snapshot")
            header = json.loads(data[_HEAD.size : _HEAD.size + length])
            body = np.frombuffer(data, dtype=np.uint8, offset=_HEAD.size + length)
            index: Any = faiss.deserialize_index(body.copy())
        except (struct.error, json.JSONDecodeError, RuntimeError, UnicodeDecodeError) as exc:
            raise ValueError("malformed index snapshot") from exc
        if int(index.d) != header["dimension"]:
            raise ValueError("index snapshot dimension mismatch")
        if header["layout"] == "ivf":
            index.nprobe = settings.ivf_nprobe
        return cls(
            header["kind"],
            header["dimension"],
            settings,
            layout=header["layout"],
            index=index,
            tombstones=header["tombstones"],
            trained_at=header["trained_at"],
            applied_seq=header["applied_seq"],
        )

    def _limit_threads(self) -> None:
        if self.settings.request_threads is not None:
            faiss.omp_set_num_threads(self.settings.request_threads)

    def _advance(self, seq: int, changes: int) -> None:
        self.applied_seq = max(self.applied_seq, seq)
        self.unsnapshotted += changes

    def _refresh_params(self) -> None:
        if self.layout != "hnsw":
            return
        if not self._tombstones:
            self._selectors = ()
            self._params = _hnsw_params(efSearch=self.settings.hnsw_ef_search)
            return
        batch = faiss.IDSelectorBatch(np.fromiter(self._tombstones, dtype=np.int64))
        exclude = faiss.IDSelectorNot(batch)
        self._selectors = (batch, exclude)  # FAISS keeps raw pointers: keep the Python objects alive
        self._params = _hnsw_params(efSearch=self.settings.hnsw_ef_search, sel=exclude)


def _hnsw_params(**fields: Any) -> Any:
    return faiss.SearchParametersHNSW(**fields)  # type: ignore[attr-defined]  # missing from faiss's stubs


def _empty(layout: str, dimension: int, settings: IndexSettings) -> Any:
    if layout == "hnsw":
        graph = faiss.IndexHNSWFlat(dimension, settings.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = settings.hnsw_ef_construction
        return faiss.IndexIDMap2(graph)
    if layout == "flat":
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
    raise ValueError(f"no empty layout {layout!r}: IVF is only built from training data")
