"""The embedded backend beyond the contract: snapshots, replay after a crash, files on disk, clear-column binding."""

from __future__ import annotations

import shutil
import stat
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from gateway.backends.sqlite.store import SQLiteStore
from gateway.backends.sqlite.store_rows import SQLiteVectorSource
from gateway.errors import DecryptionFailed, Unavailable
from gateway.store.snapshots import SnapshotFiles
from tests.unit.store.store_kit import (
    TEST_SETTINGS,
    FakeClock,
    SQLiteHarness,
    chunk,
    chunks_for,
    collection,
    near,
    unit_vectors,
)


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[SQLiteHarness]:
    made = SQLiteHarness(tmp_path / "data")
    yield made
    made.close()


@pytest.fixture
def pruning(tmp_path: Path) -> Iterator[SQLiteHarness]:
    """A store that prunes the changes a snapshot covers at once (no retention for lagging workers)."""
    made = SQLiteHarness(tmp_path / "data", settings=replace(TEST_SETTINGS, change_retention_s=0.0))
    yield made
    made.close()


def _second_store(harness: SQLiteHarness) -> SQLiteStore:
    """Another process opening the same files (the first one 'crashed' without closing)."""
    return SQLiteStore(harness.data_dir, harness.envelope, settings=TEST_SETTINGS)


def _snapshot_files(harness: SQLiteHarness) -> list[Path]:
    return sorted((harness.data_dir / "indexes").glob("*.faiss.enc"))


def _no_rebuild(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object) -> None:
        raise AssertionError("the index was rebuilt from the records instead of loaded from its snapshot")

    monkeypatch.setattr(SQLiteVectorSource, "current_vectors", refuse)


def test_when_reopened_then_the_index_comes_from_its_snapshot(
    harness: SQLiteHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.store.create_collection(collection(index_type="hnsw"))
    vectors = unit_vectors(30)
    ids = harness.store.put("tenant-a", "docs", chunks_for(vectors), None)
    harness.reopen()
    _no_rebuild(monkeypatch)
    assert harness.store.search("tenant-a", "docs", vectors[3], 1)[0].record_id == ids[3]


def test_when_process_dies_after_a_snapshot_then_later_changes_are_replayed(
    pruning: SQLiteHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = pruning
    harness.store.create_collection(collection())
    vectors = unit_vectors(66)
    ids = harness.store.put("tenant-a", "docs", chunks_for(vectors[:60]), None)  # >= snapshot_every: snapshot
    harness.settle()
    assert len(_snapshot_files(harness)) == 1
    assert harness._sql("SELECT COUNT(*) FROM store_changes", ())[0][0] == 1  # pruned but the snapshot's own
    ids += harness.store.put("tenant-a", "docs", chunks_for(vectors[60:], prefix="late"), None)
    harness.store.delete_document("tenant-a", "docs", "doc-7")
    assert harness._sql("SELECT COUNT(*) FROM store_changes", ())[0][0] == 8
    _no_rebuild(monkeypatch)
    survivor = _second_store(harness)
    try:
        assert survivor.search("tenant-a", "docs", vectors[63], 1)[0].record_id == ids[63]
        assert all(h.document_id != "doc-7" for h in survivor.search("tenant-a", "docs", vectors[7], 5))
    finally:
        survivor.close()


def test_when_snapshot_is_corrupt_then_the_index_is_rebuilt_from_records(harness: SQLiteHarness) -> None:
    harness.store.create_collection(collection())
    vectors = unit_vectors(20)
    ids = harness.store.put("tenant-a", "docs", chunks_for(vectors), None)
    harness.store.close()
    [snapshot] = _snapshot_files(harness)
    data = bytearray(snapshot.read_bytes())
    data[len(data) // 2] ^= 0xFF
    snapshot.write_bytes(bytes(data))
    store = harness.reopen()
    assert store.search("tenant-a", "docs", vectors[9], 1)[0].record_id == ids[9]
    assert store.health()["snapshot_failures"] == 1


def test_when_snapshot_is_copied_over_another_collections_then_it_does_not_open(harness: SQLiteHarness) -> None:
    store = harness.store
    store.create_collection(collection(name="a"))
    store.create_collection(collection(name="b"))
    vectors = unit_vectors(10)
    store.put("tenant-a", "a", chunks_for(vectors), None)
    b_ids = store.put("tenant-a", "b", chunks_for(vectors), None)
    store.close()
    files = SnapshotFiles(harness.data_dir / "indexes", harness.envelope)
    shutil.copyfile(files.path("tenant-a", "a"), files.path("tenant-a", "b"))
    store = harness.reopen()
    assert {h.record_id for h in store.search("tenant-a", "b", vectors[0], 10)} == set(b_ids)
    assert store.health()["snapshot_failures"] == 1


def test_when_a_text_ciphertext_is_put_in_the_vector_column_then_it_does_not_open(harness: SQLiteHarness) -> None:
    harness.store.create_collection(collection())
    ids = harness.store.put("tenant-a", "docs", chunks_for(unit_vectors(2)), None)
    text = harness.raw(ids[0], "text")
    other_vector = harness.raw(ids[1], "vector")
    harness._sql("UPDATE store_chunks SET vector = ? WHERE record_id = ?", (text, ids[0]))
    harness._sql("UPDATE store_chunks SET vector = ? WHERE record_id = ?", (other_vector, ids[0]))
    with pytest.raises(DecryptionFailed):
        harness.store.get("tenant-a", "docs", ids[0])


def test_when_files_are_written_then_only_the_owner_can_read_them(harness: SQLiteHarness) -> None:
    harness.store.create_collection(collection())
    harness.store.put("tenant-a", "docs", chunks_for(unit_vectors(3)), None)
    harness.store.close()
    for path in [harness.data_dir / "store.db", *_snapshot_files(harness)]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_when_ivf_collection_grows_then_it_is_trained_and_swapped_in(harness: SQLiteHarness) -> None:
    harness.store.create_collection(collection(index_type="ivf"))
    vectors = unit_vectors(200)
    ids = harness.store.put("tenant-a", "docs", chunks_for(vectors), None)
    harness.settle()
    assert harness.store.health()["index_rebuilds"] == 1
    assert harness.store.search("tenant-a", "docs", near(vectors[150]), 1)[0].record_id == ids[150]


def test_when_hnsw_loses_many_chunks_then_it_is_rebuilt_without_them(harness: SQLiteHarness) -> None:
    harness.store.create_collection(collection(index_type="hnsw"))
    vectors = unit_vectors(50)
    harness.store.put("tenant-a", "docs", chunks_for(vectors), None)
    for i in range(15):
        harness.store.delete_document("tenant-a", "docs", f"doc-{i}")
    harness.settle()
    health = harness.store.health()
    assert health["index_rebuilds"] == 1 and health["vectors_indexed"] == 35
    assert {h.document_id for h in harness.store.search("tenant-a", "docs", vectors[0], 35)} == {
        f"doc-{i}" for i in range(15, 50)
    }


def test_when_writers_and_readers_run_together_then_every_write_lands(harness: SQLiteHarness) -> None:
    harness.store.create_collection(collection(index_type="hnsw"))
    vectors = unit_vectors(80)
    errors: list[BaseException] = []

    def write(part: int) -> None:
        try:
            for i in range(part * 20, part * 20 + 20):
                harness.store.put("tenant-a", "docs", [chunk(f"d{i}", 0, vectors[i])], None)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    def read() -> None:
        try:
            for i in range(40):
                harness.store.search("tenant-a", "docs", vectors[i], 3)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(p,)) for p in range(4)] + [threading.Thread(target=read)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert harness.store.get_collection("tenant-a", "docs").chunk_count == 80
    assert harness.store.search("tenant-a", "docs", vectors[77], 1)[0].document_id == "d77"


def test_when_clock_is_injected_then_records_carry_its_time(tmp_path: Path) -> None:
    reference = SQLiteHarness(tmp_path / "ref")
    clock = FakeClock()
    store = SQLiteStore(tmp_path / "data", reference.envelope, clock=clock, new_id=lambda: "fixed-id")
    try:
        store.create_collection(collection())
        [record_id] = store.put("tenant-a", "docs", [chunk("d", 0, unit_vectors(1)[0])], None)
        assert record_id == "fixed-id"
        assert store.get("tenant-a", "docs", record_id).created_at == "2025-01-01T00:00:02+00:00"
    finally:
        store.close()
        reference.close()


def test_when_closed_then_calls_are_unavailable(harness: SQLiteHarness) -> None:
    harness.store.create_collection(collection())
    harness.store.close()
    with pytest.raises(Unavailable):
        harness.store.search("tenant-a", "docs", np.ones(384, dtype=np.float32), 1)
    assert harness.store.health()["ok"] is False
