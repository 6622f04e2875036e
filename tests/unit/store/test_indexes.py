"""FAISS index layouts, their snapshots, and the manager's rebuild-and-swap that never blocks searches."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from gateway.store import IndexSettings
from gateway.store.faiss_index import VectorIndex
from gateway.store.indexes import Change, IndexManager
from tests.unit.store.store_kit import DIM, collection, unit_vectors

SETTINGS = IndexSettings(ivf_min_lists=4)


def _ids(n: int, start: int = 1) -> np.ndarray:
    return np.arange(start, start + n, dtype=np.int64)


@pytest.mark.parametrize(("kind", "n", "layout"), [("flat", 50, "flat"), ("hnsw", 50, "hnsw"),
                                                   ("ivf", 50, "flat"), ("ivf", 200, "ivf")])  # fmt: skip
def test_when_index_round_trips_through_bytes_then_it_answers_alike(kind: str, n: int, layout: str) -> None:
    vectors = unit_vectors(n)
    index = VectorIndex.build(kind, DIM, SETTINGS, _ids(n), vectors, applied_seq=n)
    index.remove(np.array([3, 4], dtype=np.int64), seq=n + 1)
    copy = VectorIndex.from_bytes(index.to_bytes(), SETTINGS)
    assert (copy.layout, copy.applied_seq, copy.size) == (layout, n + 1, n - 2)
    for i in (0, 10, 30):
        assert copy.search(vectors[i], 5) == index.search(vectors[i], 5)
        assert index.search(vectors[i], 1)[0][0] == i + 1
    assert all(hit[0] not in (3, 4) for hit in copy.search(vectors[2], n))


@pytest.mark.parametrize("data", [b"", b"GSIX\x01\x00\x00\x00\x02{}", b"not a snapshot at all"])
def test_when_snapshot_bytes_are_malformed_then_value_error(data: bytes) -> None:
    with pytest.raises(ValueError):
        VectorIndex.from_bytes(data, SETTINGS)


def test_when_ivf_has_too_few_vectors_then_it_stays_flat_until_it_has_enough() -> None:
    index = VectorIndex.build("ivf", DIM, SETTINGS, _ids(10), unit_vectors(10), 10)
    assert index.layout == "flat" and not index.needs_rebuild()
    index.add(_ids(150, start=11), unit_vectors(150, seed=1), 160)
    assert index.needs_rebuild()


class BlockingSource:
    """An in-memory vector source whose full read can be held back, to catch a rebuild halfway."""

    def __init__(self) -> None:
        self.stored: dict[int, np.ndarray] = {}
        self.changes: list[Change] = []
        self.gate = threading.Event()
        self.gate.set()
        self.reading = threading.Event()

    def put(self, ids: np.ndarray, vectors: np.ndarray) -> int:
        for chunk_id, vector in zip(ids, vectors, strict=True):
            self.stored[int(chunk_id)] = vector
            self.changes.append(Change(len(self.changes) + 1, "add", int(chunk_id)))
        return len(self.changes)

    def current_vectors(self, c: object) -> tuple[int, np.ndarray, np.ndarray]:
        seq, ids = len(self.changes), sorted(self.stored)
        matrix = np.array([self.stored[i] for i in ids], dtype=np.float32).reshape(-1, DIM)
        self.reading.set()
        self.gate.wait(10)
        return seq, np.array(ids, dtype=np.int64), matrix

    def changes_after(self, c: object, seq: int) -> list[Change]:
        return [change for change in self.changes if change.seq > seq]

    def prune(self, c: object, seq: int) -> None:
        pass

    def vectors(self, c: object, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        kept = [i for i in ids if i in self.stored]
        return np.array(kept, dtype=np.int64), np.array([self.stored[i] for i in kept]).reshape(-1, DIM)


def test_when_a_rebuild_is_underway_then_searches_and_writes_do_not_wait_and_nothing_is_lost() -> None:
    source, c = BlockingSource(), collection(index_type="ivf")
    executor = ThreadPoolExecutor(1)
    manager = IndexManager(source, SETTINGS, None, executor)
    vectors = unit_vectors(220)
    live = manager.get(c)
    source.gate.clear()  # the coming rebuild will stall while reading the records
    seq = source.put(_ids(200), vectors[:200])
    live.add(_ids(200), vectors[:200], seq)
    manager.schedule(c)
    assert source.reading.wait(5)
    assert manager.get(c).search(vectors[5], 1)[0][0] == 6  # served by the old (flat) index meanwhile
    seq = source.put(_ids(20, start=201), vectors[200:])  # a write that lands during the rebuild
    live.add(_ids(20, start=201), vectors[200:], seq)
    assert not source.gate.is_set()  # both ran while the rebuild was still stalled: neither waited for it
    source.gate.set()
    manager.flush()
    swapped = manager.get(c)
    assert swapped is not live and swapped.layout == "ivf" and swapped.size == 220
    assert swapped.search(vectors[210], 1)[0][0] == 211  # replayed from the change log at the swap
    manager.close()
    executor.shutdown()
