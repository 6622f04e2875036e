"""Two stores on one database, as two replicas: each one's in-memory index follows the other's writes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from gateway.backends.postgres.connection import PgDatabase
from gateway.backends.postgres.datakeys import PgDataKeyRepository
from gateway.backends.postgres.listen import Listener
from gateway.backends.postgres.migrations import upgrade
from gateway.backends.postgres.store import PostgresStore
from gateway.crypto import Envelope, Keyring
from tests.unit.backends.postgres.pgkit import TempSchema
from tests.unit.store.store_kit import TEST_SETTINGS, chunk, chunks_for, collection, unit_vectors

LAG_BOUND_S = 1.0


class Replica:
    def __init__(self, schema: TempSchema, keyring: Keyring, poll_interval_s: float) -> None:
        self.db = PgDatabase(schema.url, max_size=4)
        upgrade(self.db)
        self.store = PostgresStore(self.db, Envelope(keyring, PgDataKeyRepository(self.db)), settings=TEST_SETTINGS)
        self.listener = Listener(schema.url, {"store": self.store.sync.refresh}, poll_interval_s=poll_interval_s)
        self.listener.start()

    def close(self) -> None:
        self.listener.stop()
        self.store.close()
        self.db.close()


@pytest.fixture
def replicas(schema: TempSchema) -> Iterator[tuple[Replica, Replica]]:
    keyring = Keyring.generate()  # replicas share the key-encryption key, as they share its file or secret
    pair = Replica(schema, keyring, 5.0), Replica(schema, keyring, 5.0)  # a long poll: NOTIFY must do it
    time.sleep(0.3)
    yield pair
    for r in pair:
        r.close()


def _wait_for(predicate: object, bound: float = LAG_BOUND_S) -> float:
    started = time.monotonic()
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() - started < bound, "the other replica did not catch up within the bound"
        time.sleep(0.005)
    return time.monotonic() - started


def test_when_one_replica_writes_then_the_other_finds_it_within_the_bound(replicas: tuple[Replica, Replica]) -> None:
    a, b = replicas
    a.store.create_collection(collection(index_type="hnsw"))
    vectors = unit_vectors(30)
    a.store.put("tenant-a", "docs", chunks_for(vectors[:10]), None)
    assert len(b.store.search("tenant-a", "docs", vectors[0], 20)) == 10  # b loads the index
    [new] = a.store.put("tenant-a", "docs", [chunk("late", 0, vectors[20])], None)
    _wait_for(lambda: b.store.search("tenant-a", "docs", vectors[20], 1)[0].record_id == new)
    a.store.delete_document("tenant-a", "docs", "late")
    _wait_for(lambda: all(h.record_id != new for h in b.store.search("tenant-a", "docs", vectors[20], 5)))


def test_when_both_replicas_write_one_collection_then_both_indexes_hold_everything(
    replicas: tuple[Replica, Replica],
) -> None:
    a, b = replicas
    a.store.create_collection(collection())
    vectors = unit_vectors(40)
    for i in range(0, 40, 2):
        a.store.put("tenant-a", "docs", [chunk(f"a{i}", 0, vectors[i])], None)
        b.store.put("tenant-a", "docs", [chunk(f"b{i}", 0, vectors[i + 1])], None)
    for r in (a, b):
        _wait_for(lambda r=r: len(r.store.search("tenant-a", "docs", vectors[0], 100)) == 40)


def test_when_a_collection_is_dropped_and_recreated_elsewhere_then_no_stale_hit_is_served(
    replicas: tuple[Replica, Replica],
) -> None:
    a, b = replicas
    a.store.create_collection(collection())
    vectors = unit_vectors(5)
    a.store.put("tenant-a", "docs", chunks_for(vectors), None)
    assert len(b.store.search("tenant-a", "docs", vectors[0], 5)) == 5
    a.store.delete_collection("tenant-a", "docs")
    a.store.create_collection(collection())
    assert b.store.search("tenant-a", "docs", vectors[0], 5) == []
