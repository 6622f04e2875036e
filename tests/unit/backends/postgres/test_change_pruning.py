"""The shared change sequence is pruned behind snapshots, and a replica behind the pruned part reloads."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pytest

from gateway.backends.postgres.connection import PgDatabase
from gateway.backends.postgres.datakeys import PgDataKeyRepository
from gateway.backends.postgres.migrations import upgrade
from gateway.backends.postgres.store import PostgresStore
from gateway.crypto import Envelope, Keyring
from gateway.store.faiss_index import IndexSettings
from tests.unit.backends.postgres.pgkit import TempSchema
from tests.unit.store.store_kit import TEST_SETTINGS, chunk, collection, unit_vectors

PRUNE_AT_ONCE = replace(TEST_SETTINGS, change_retention_s=0.0)  # snapshot_every=50


class Replica:
    """A store on the shared schema with no change listener: it follows only when told to (a lagging replica)."""

    def __init__(self, schema: TempSchema, keyring: Keyring, settings: IndexSettings) -> None:
        self.db = PgDatabase(schema.url, max_size=4)
        upgrade(self.db)
        self.store = PostgresStore(self.db, Envelope(keyring, PgDataKeyRepository(self.db)), settings=settings)

    def close(self) -> None:
        self.store.close()
        self.db.close()


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.generate()


@pytest.fixture
def make(schema: TempSchema, keyring: Keyring) -> Iterator[object]:
    made: list[Replica] = []

    def replica(settings: IndexSettings = PRUNE_AT_ONCE) -> Replica:
        made.append(Replica(schema, keyring, settings))
        return made[-1]

    yield replica
    for r in made:
        r.close()


def changes(schema: TempSchema) -> tuple[int, int, int]:
    """(rows, highest seq, changes_pruned_through) of the test collection."""
    [(rows, top)] = schema.sql("SELECT count(*), coalesce(max(seq), 0) FROM store_changes "
                               "WHERE tenant = 'tenant-a' AND collection = 'docs'")
    [(mark,)] = schema.sql("SELECT changes_pruned_through FROM store_collections "
                           "WHERE tenant = 'tenant-a' AND name = 'docs'")
    return int(rows), int(top), int(mark)


def fill(r: Replica, vectors: np.ndarray, prefix: str) -> None:
    r.store.put("tenant-a", "docs", [chunk(f"{prefix}{i}", 0, v) for i, v in enumerate(vectors)], None)


def test_when_a_snapshot_covers_old_changes_then_they_are_deleted_and_the_latest_seq_is_kept(
    schema: TempSchema, make: object,
) -> None:
    a = make()  # type: ignore[operator]
    a.store.create_collection(collection())
    fill(a, unit_vectors(60), "d")
    a.store.flush()  # 60 changes >= snapshot_every: a snapshot, then the prune
    rows, top, mark = changes(schema)
    assert rows == 1 and mark == top - 1  # only the change the snapshot is at is left
    assert len(a.store.search("tenant-a", "docs", unit_vectors(60)[0], 100)) == 60


def test_when_changes_are_younger_than_the_retention_then_nothing_is_deleted(
    schema: TempSchema, make: object,
) -> None:
    a = make(replace(TEST_SETTINGS, change_retention_s=300.0))  # type: ignore[operator]
    a.store.create_collection(collection())
    fill(a, unit_vectors(60), "d")
    a.store.flush()
    assert changes(schema)[::2] == (60, 0)


def left_behind(make: object) -> tuple[Replica, Replica, np.ndarray]:
    """b loads the collection at 10 chunks and stops following; a then removes old0, adds 60 and prunes."""
    a, b = make(), make()  # type: ignore[operator]
    a.store.create_collection(collection())
    vectors = unit_vectors(70)
    fill(a, vectors[:10], "old")
    assert len(b.store.search("tenant-a", "docs", vectors[0], 100)) == 10
    a.store.delete_document("tenant-a", "docs", "old0")
    fill(a, vectors[10:], "new")
    a.store.flush()
    return a, b, vectors


def test_when_a_replica_is_behind_the_pruned_changes_then_it_reloads_and_serves_no_removed_chunk(
    schema: TempSchema, make: object,
) -> None:
    _, b, vectors = left_behind(make)
    assert changes(schema)[0] == 1  # the removal of old0 and the 60 adds are gone from the sequence
    b.store.sync.refresh()  # replaying from where b stands would skip all of them
    assert b.store.sync.reloads == 1
    hits = b.store.search("tenant-a", "docs", vectors[0], 100)
    assert len(hits) == 69
    assert all(h.document_id != "old0" for h in hits)


def test_when_the_shared_snapshot_is_older_than_the_pruned_changes_then_a_new_replica_rebuilds_from_the_records(
    schema: TempSchema, make: object,
) -> None:
    _, b, vectors = left_behind(make)
    schema.sql("UPDATE store_snapshots SET seq = 0")  # as written before migration 4: any snapshot replaces it
    b.close()  # so b's last snapshot (10 chunks, with old0) replaces a's newer one
    c = make()  # type: ignore[operator]
    hits = c.store.search("tenant-a", "docs", vectors[0], 100)
    assert len(hits) == 69
    assert all(h.document_id != "old0" for h in hits)
    assert c.store.health()["index_loads_from_records"] == 1


def snapshot_seq(schema: TempSchema) -> int:
    [(seq,)] = schema.sql("SELECT seq FROM store_snapshots WHERE tenant = 'tenant-a' AND collection = 'docs'")
    return int(seq)


def test_when_a_lagging_replica_snapshots_then_the_newer_shared_snapshot_is_kept_and_nobody_rebuilds(
    schema: TempSchema, make: object,
) -> None:
    _, b, vectors = left_behind(make)
    newest = snapshot_seq(schema)
    b.close()  # b's snapshot is of 10 chunks, from before the removal and the 60 adds
    assert snapshot_seq(schema) == newest
    c = make()  # type: ignore[operator]
    hits = c.store.search("tenant-a", "docs", vectors[0], 100)
    assert len(hits) == 69
    assert all(h.document_id != "old0" for h in hits)
    assert c.store.health()["index_loads_from_records"] == 0  # loaded from a's snapshot
