"""Two stores on one data dir, as two gateway worker processes: each one's FAISS index follows the other's writes
through the change feed (``listen.Listener`` polling ``store_changes``), and one that fell behind pruned changes
reloads instead of replaying a sequence with a hole in it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from gateway.backends.sqlite import store_rows
from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.backends.sqlite.datakeys import SQLiteDataKeyRepository
from gateway.backends.sqlite.listen import Listener
from gateway.backends.sqlite.store import SQLiteStore
from gateway.crypto import Envelope, Keyring
from gateway.store.faiss_index import IndexSettings
from tests.unit.store.store_kit import TEST_SETTINGS, chunk, chunks_for, collection, unit_vectors

POLL_S = 0.05
LAG_BOUND_S = 2.0  # generous: two shared cores


class Worker:
    """A store of its own (own connections, own indexes) on the shared files, with or without a listener."""

    def __init__(self, data_dir: Path, keyring: Keyring, settings: IndexSettings, follow: bool) -> None:
        db = SQLiteDatabase(data_dir / "store.db")
        self.store = SQLiteStore(data_dir, Envelope(keyring, SQLiteDataKeyRepository(db)), db, settings=settings)
        self.listener = Listener(db, {"store": self.store.sync.refresh}, poll_interval_s=POLL_S) if follow else None
        if self.listener is not None:
            self.listener.start()

    def close(self) -> None:
        if self.listener is not None:
            self.listener.stop()
        self.store.close()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    keyring = Keyring.generate()  # workers share the key-encryption key, as they share its file
    made: list[Worker] = []

    def worker(settings: IndexSettings = TEST_SETTINGS, follow: bool = True) -> Worker:
        made.append(Worker(tmp_path / "data", keyring, settings, follow))
        return made[-1]

    yield worker
    for w in made:
        w.close()


def _wait_for(predicate: Callable[[], bool]) -> None:
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < LAG_BOUND_S, "the other worker did not catch up within the bound"
        time.sleep(0.01)


def test_when_one_worker_writes_and_deletes_then_the_other_follows_within_the_bound(
    workers: Callable[..., Worker],
) -> None:
    a, b = workers(), workers()
    a.store.create_collection(collection(index_type="hnsw"))
    vectors = unit_vectors(30)
    a.store.put("tenant-a", "docs", chunks_for(vectors[:10]), None)
    assert len(b.store.search("tenant-a", "docs", vectors[0], 20)) == 10  # b loads the index
    [new] = a.store.put("tenant-a", "docs", [chunk("late", 0, vectors[20])], None)
    _wait_for(lambda: b.store.search("tenant-a", "docs", vectors[20], 1)[0].record_id == new)
    a.store.delete_document("tenant-a", "docs", "late")
    _wait_for(lambda: all(h.record_id != new for h in b.store.search("tenant-a", "docs", vectors[20], 5)))


def test_when_both_workers_write_one_collection_then_each_write_first_takes_in_the_others(
    workers: Callable[..., Worker],
) -> None:
    # No listener: only the write path's catch-up can bring in the other's changes before applying its own.
    a, b = workers(follow=False), workers(follow=False)
    a.store.create_collection(collection())
    vectors = unit_vectors(40)
    for i in range(0, 40, 2):
        a.store.put("tenant-a", "docs", [chunk(f"a{i}", 0, vectors[i])], None)
        b.store.put("tenant-a", "docs", [chunk(f"b{i}", 0, vectors[i + 1])], None)
    assert len(b.store.search("tenant-a", "docs", vectors[0], 100)) == 40  # b wrote last: it has everything
    a.store.put("tenant-a", "docs", [chunk("last", 0, vectors[0])], None)
    assert len(a.store.search("tenant-a", "docs", vectors[0], 100)) == 41


def test_when_a_collection_is_dropped_and_recreated_by_one_worker_then_the_other_serves_no_stale_hit(
    workers: Callable[..., Worker],
) -> None:
    a, b = workers(), workers()
    a.store.create_collection(collection())
    vectors = unit_vectors(5)
    a.store.put("tenant-a", "docs", chunks_for(vectors), None)
    assert len(b.store.search("tenant-a", "docs", vectors[0], 5)) == 5
    a.store.delete_collection("tenant-a", "docs")
    a.store.create_collection(collection())
    assert b.store.search("tenant-a", "docs", vectors[0], 5) == []


def test_when_a_lagging_worker_needs_pruned_changes_then_it_reloads_and_misses_nothing(
    workers: Callable[..., Worker],
) -> None:
    prune_at_once = replace(TEST_SETTINGS, change_retention_s=0.0)  # snapshot_every=50
    a, lagging = workers(prune_at_once), workers(prune_at_once, follow=False)
    a.store.create_collection(collection())
    vectors = unit_vectors(70)
    a.store.put("tenant-a", "docs", chunks_for(vectors[:5]), None)
    assert len(lagging.store.search("tenant-a", "docs", vectors[0], 100)) == 5  # loaded, then left behind
    a.store.delete_document("tenant-a", "docs", "doc-3")  # a removal the lagging worker must not miss
    a.store.put("tenant-a", "docs", chunks_for(vectors[5:70], prefix="more"), None)  # past snapshot_every
    a.store.flush()  # the snapshot is written and the changes it covers are pruned
    lagging.store.sync.refresh()
    assert lagging.store.sync.reloads == 1
    hits = lagging.store.search("tenant-a", "docs", vectors[3], 100)
    assert len(hits) == 69 and all(h.document_id != "doc-3" for h in hits)


def test_when_a_lagging_worker_writes_an_older_snapshot_then_the_newer_one_stays(
    workers: Callable[..., Worker], tmp_path: Path,
) -> None:
    a, b = workers(follow=False), workers(follow=False)
    a.store.create_collection(collection())
    vectors = unit_vectors(20)
    a.store.put("tenant-a", "docs", chunks_for(vectors[:5]), None)
    assert len(b.store.search("tenant-a", "docs", vectors[0], 100)) == 5  # b's index: 5 vectors
    a.store.put("tenant-a", "docs", chunks_for(vectors[5:], prefix="more"), None)
    a.store.close()  # its final snapshot: 20 vectors
    b.store.close()  # b's final snapshot, of the older seq, is refused
    reader = workers(follow=False)
    assert len(reader.store.search("tenant-a", "docs", vectors[0], 100)) == 20
    assert reader.store.health()["index_loads_from_records"] == 0


def test_when_a_follower_fails_then_the_next_poll_runs_it_again_and_an_idle_feed_wakes_nobody(
    tmp_path: Path,
) -> None:
    db = SQLiteDatabase(tmp_path / "store.db")
    db().executescript(store_rows.SCHEMA)
    calls: list[float] = []

    def flaky() -> None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise RuntimeError("the first round fails")

    listener = Listener(db, {"store": flaky}, poll_interval_s=POLL_S)
    listener.start()
    try:
        _wait_for(lambda: len(calls) == 2)  # the failed round is run again although nothing changed
        time.sleep(10 * POLL_S)
        assert len(calls) == 2  # nothing new in the sequence: no wakeup
        db().execute("INSERT INTO store_changes (tenant, collection, op) VALUES ('t', 'c', 'drop')")
        _wait_for(lambda: len(calls) == 3)
    finally:
        listener.stop()
