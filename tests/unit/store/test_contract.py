"""The Store contract: every backend passes these unchanged (``harness``/``store`` are parametrized in conftest)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from gateway.crypto import RecordContext
from gateway.errors import BadRequest, Conflict, DecryptionFailed, NotFound
from gateway.store import Collection, Store
from tests.unit.store.store_kit import Harness, chunk, chunks_for, collection, near, unit_vectors


def _filled(store: Store, n: int = 20, *, index_type: str = "flat", seed: int = 0) -> tuple[np.ndarray, list[str]]:
    store.create_collection(collection(index_type=index_type))
    vectors = unit_vectors(n, seed)
    return vectors, store.put("tenant-a", "docs", chunks_for(vectors), audit_index=7)


# Collections


def test_when_collection_created_then_it_is_listed_and_got(store: Store) -> None:
    created = store.create_collection(collection())
    assert created.created_at and created.chunk_count == 0
    store.create_collection(collection(name="other", index_type="hnsw", retain_text=False))
    assert [c.name for c in store.list_collections("tenant-a")] == ["docs", "other"]
    got = store.get_collection("tenant-a", "other")
    assert (got.index_type, got.retain_text, got.dimension, got.model_version) == ("hnsw", False, 384, "1.0.0")


def test_when_collection_already_exists_then_create_conflicts(store: Store) -> None:
    store.create_collection(collection())
    with pytest.raises(Conflict):
        store.create_collection(collection())


@pytest.mark.parametrize(
    "bad",
    [
        collection(name="no spaces allowed"),
        Collection("tenant-a", "docs", "m", "1.0", 384, "flat", True),
        Collection("tenant-a", "docs", "m", "1.0.0", 384, "annoy", True),  # type: ignore[arg-type]
        Collection("tenant-a", "docs", "m", "1.0.0", 0, "flat", True),
    ],
)
def test_when_collection_malformed_then_bad_request(store: Store, bad: Collection) -> None:
    with pytest.raises(BadRequest):
        store.create_collection(bad)


def test_when_collection_deleted_then_it_is_gone_with_its_chunks(store: Store) -> None:
    _filled(store, 5)
    assert store.get_collection("tenant-a", "docs").chunk_count == 5
    assert store.delete_collection("tenant-a", "docs") == 5
    with pytest.raises(NotFound):
        store.get_collection("tenant-a", "docs")
    with pytest.raises(NotFound):
        store.delete_collection("tenant-a", "docs")


def test_when_collection_recreated_then_it_starts_empty(harness: Harness) -> None:
    vectors, _ = _filled(harness.store, 5)
    harness.store.delete_collection("tenant-a", "docs")
    harness.store.create_collection(collection())
    assert harness.store.search("tenant-a", "docs", vectors[0], 5) == []
    harness.reopen()
    assert harness.store.search("tenant-a", "docs", vectors[0], 5) == []


# Records


def test_when_chunk_put_then_get_returns_it_decrypted(store: Store) -> None:
    store.create_collection(collection())
    [record_id] = store.put("tenant-a", "docs", [chunk("d1", 0, unit_vectors(1)[0], "hello", {"k": 1})], 42)
    got = store.get("tenant-a", "docs", record_id)
    assert (got.document_id, got.chunk_index, got.span, got.text) == ("d1", 0, (0, 90), "hello")
    assert got.metadata == {"k": 1}
    assert got.provenance["model_version"] == "1.0.0" and got.provenance["sigma"] == 0.01
    assert got.key_version >= 1 and got.audit_index == 42 and got.created_at


def test_when_collection_does_not_retain_text_then_no_text_comes_back(store: Store) -> None:
    store.create_collection(collection(retain_text=False))
    [record_id] = store.put("tenant-a", "docs", [chunk("d1", 0, unit_vectors(1)[0], "secret text")], None)
    assert store.get("tenant-a", "docs", record_id).text is None
    assert store.search("tenant-a", "docs", unit_vectors(1)[0], 1)[0].text is None


def test_when_a_batch_fails_then_nothing_of_it_is_stored(store: Store) -> None:
    vectors, _ = _filled(store, 3)
    batch = [chunk("new", 0, vectors[0]), chunk("doc-1", 0, vectors[1])]  # the second one exists already
    with pytest.raises(Conflict):
        store.put("tenant-a", "docs", batch, None)
    with pytest.raises(NotFound):
        store.document("tenant-a", "docs", "new")
    assert store.get_collection("tenant-a", "docs").chunk_count == 3


@pytest.mark.parametrize(
    "vector", [np.ones(384, dtype=np.float32), np.zeros(10, dtype=np.float32), np.full(384, np.nan)]
)
def test_when_vector_malformed_then_put_is_refused(store: Store, vector: np.ndarray) -> None:
    store.create_collection(collection())
    with pytest.raises(BadRequest):
        store.put("tenant-a", "docs", [chunk("d", 0, vector)], None)


def test_when_vectors_from_another_embedding_space_then_put_conflicts(store: Store) -> None:
    store.create_collection(collection())
    foreign = chunk("d", 0, unit_vectors(1)[0])
    foreign = type(foreign)(**{**foreign.__dict__, "provenance": {"model_version": "1.1.0"}})
    with pytest.raises(Conflict):
        store.put("tenant-a", "docs", [foreign], None)


def test_when_document_requested_then_its_chunks_come_in_order(store: Store) -> None:
    store.create_collection(collection())
    vectors = unit_vectors(6)
    store.put("tenant-a", "docs", chunks_for(vectors, per_document=3)[::-1], None)
    lineage = store.document("tenant-a", "docs", "doc-1")
    assert [c.chunk_index for c in lineage] == [0, 1, 2]
    assert all(c.document_id == "doc-1" for c in lineage)


def test_when_document_deleted_then_get_and_search_forget_it(store: Store) -> None:
    vectors, ids = _filled(store, 10)
    assert store.delete_document("tenant-a", "docs", "doc-3") == 1
    assert store.delete_document("tenant-a", "docs", "doc-3") == 0
    with pytest.raises(NotFound):
        store.get("tenant-a", "docs", ids[3])
    assert all(hit.document_id != "doc-3" for hit in store.search("tenant-a", "docs", vectors[3], 10))


def test_when_put_with_replace_then_the_old_chunks_of_the_document_go(store: Store) -> None:
    store.create_collection(collection())
    vectors = unit_vectors(4)
    old = store.put("tenant-a", "docs", chunks_for(vectors[:3], per_document=3), None)
    new = store.put("tenant-a", "docs", [chunk("doc-0", 0, vectors[3], "v2")], None, replace=True)
    assert [c.record_id for c in store.document("tenant-a", "docs", "doc-0")] == new
    with pytest.raises(NotFound):
        store.get("tenant-a", "docs", old[0])
    assert store.search("tenant-a", "docs", vectors[0], 1)[0].record_id == new[0]


# Retention


def test_when_purged_before_a_cutoff_then_older_chunks_leave_get_search_and_rows(harness: Harness) -> None:
    store = harness.store
    store.create_collection(collection())
    vectors = unit_vectors(5)
    old = store.put("tenant-a", "docs", chunks_for(vectors[:3], prefix="old"), None)
    time.sleep(0.01)
    cutoff = datetime.now(UTC)
    time.sleep(0.01)
    young = store.put("tenant-a", "docs", chunks_for(vectors[3:], prefix="young"), None)
    assert store.purge_before("tenant-a", "docs", cutoff) == 3
    assert store.purge_before("tenant-a", "docs", cutoff) == 0
    assert store.get_collection("tenant-a", "docs").chunk_count == 2
    for record_id in old:
        with pytest.raises(NotFound):
            store.get("tenant-a", "docs", record_id)
        with pytest.raises(IndexError):  # no row at all, not merely an unreadable one
            harness.raw(record_id, "vector")
    with pytest.raises(NotFound):
        store.document("tenant-a", "docs", "old-0")
    assert store.get("tenant-a", "docs", young[0]).document_id == "young-0"
    assert {h.record_id for h in store.search("tenant-a", "docs", vectors[0], 5)} == set(young)
    reopened = harness.reopen()  # the rewritten snapshot must not bring them back
    assert {h.record_id for h in reopened.search("tenant-a", "docs", vectors[0], 5)} == set(young)


def test_when_the_cutoff_is_in_the_past_then_nothing_is_purged(store: Store) -> None:
    _filled(store, 4)
    assert store.purge_before("tenant-a", "docs", datetime.now(UTC) - timedelta(days=1)) == 0
    assert store.get_collection("tenant-a", "docs").chunk_count == 4


def test_when_the_cutoff_has_no_time_zone_or_the_collection_is_foreign_then_purge_refuses(store: Store) -> None:
    _filled(store, 2)
    with pytest.raises(BadRequest):
        store.purge_before("tenant-a", "docs", datetime(2100, 1, 1))
    with pytest.raises(NotFound):
        store.purge_before("tenant-b", "docs", datetime(2100, 1, 1, tzinfo=UTC))
    assert store.get_collection("tenant-a", "docs").chunk_count == 2


def test_when_tenants_have_collections_then_all_collections_lists_every_one(store: Store) -> None:
    store.create_collection(collection())
    store.create_collection(collection(name="b"))
    store.create_collection(collection(tenant="tenant-b"))
    assert [(c.tenant, c.name) for c in store.all_collections()] == [
        ("tenant-a", "b"), ("tenant-a", "docs"), ("tenant-b", "docs")]


# Isolation


def test_when_another_tenant_asks_then_everything_is_not_found(store: Store) -> None:
    vectors, ids = _filled(store, 3)
    other = "tenant-b"
    assert store.list_collections(other) == []
    calls: list[Callable[[], object]] = [
        lambda: store.get_collection(other, "docs"),
        lambda: store.get(other, "docs", ids[0]),
        lambda: store.document(other, "docs", "doc-0"),
        lambda: store.delete_document(other, "docs", "doc-0"),
        lambda: store.search(other, "docs", vectors[0], 3),
        lambda: store.put(other, "docs", [chunk("x", 0, vectors[0])], None),
        lambda: store.delete_collection(other, "docs"),
    ]
    for call in calls:
        with pytest.raises(NotFound):
            call()
    assert store.get_collection("tenant-a", "docs").chunk_count == 3


def test_when_two_tenants_share_a_collection_name_then_searches_never_cross(store: Store) -> None:
    vectors, a_ids = _filled(store, 5)
    store.create_collection(collection(tenant="tenant-b"))
    b_ids = store.put("tenant-b", "docs", chunks_for(vectors, prefix="b"), None)
    a_hits = store.search("tenant-a", "docs", vectors[0], 10)
    b_hits = store.search("tenant-b", "docs", vectors[0], 10)
    assert {h.record_id for h in a_hits} == set(a_ids)
    assert {h.record_id for h in b_hits} == set(b_ids)
    with pytest.raises(NotFound):
        store.get("tenant-b", "docs", a_ids[0])


# Search


def test_when_searched_then_the_nearest_comes_first(store: Store) -> None:
    vectors, ids = _filled(store, 50)
    hits = store.search("tenant-a", "docs", near(vectors[17]), 5)
    assert hits[0].record_id == ids[17] and hits[0].document_id == "doc-17"
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0.9
    assert hits[0].provenance["actor"] == "key-1" and hits[0].metadata == {"source": "doc-17"}


def test_when_k_exceeds_the_collection_then_all_chunks_come_back(store: Store) -> None:
    vectors, ids = _filled(store, 4)
    assert {h.record_id for h in store.search("tenant-a", "docs", vectors[0], 10)} == set(ids)


def test_when_filtered_then_only_matching_metadata_is_returned(store: Store) -> None:
    store.create_collection(collection())
    vectors = unit_vectors(40)
    batch = [chunk(f"d{i}", 0, v, metadata={"team": "red" if i % 10 == 0 else "blue"}) for i, v in enumerate(vectors)]
    store.put("tenant-a", "docs", batch, None)
    hits = store.search("tenant-a", "docs", vectors[1], 3, filter={"team": "red"})
    assert len(hits) == 3 and all(h.metadata["team"] == "red" for h in hits)
    assert store.search("tenant-a", "docs", vectors[1], 3, filter={"team": "green"}) == []


@pytest.mark.parametrize("k", [0, 100_000])
def test_when_k_out_of_range_then_bad_request(store: Store, k: int) -> None:
    vectors, _ = _filled(store, 2)
    with pytest.raises(BadRequest):
        store.search("tenant-a", "docs", vectors[0], k)


@pytest.mark.parametrize("index_type", ["flat", "hnsw", "ivf"])
def test_when_reopened_then_search_results_are_identical(harness: Harness, index_type: str) -> None:
    vectors, _ = _filled(harness.store, 300, index_type=index_type)
    harness.store.delete_document("tenant-a", "docs", "doc-5")
    harness.settle()
    queries = [near(vectors[i], seed=i) for i in (0, 5, 42, 299)]

    def results() -> list[list[tuple[str, float]]]:
        return [[(h.record_id, round(h.score, 5)) for h in harness.store.search("tenant-a", "docs", q, 10)]
                for q in queries]  # fmt: skip

    before = results()
    harness.reopen()
    assert results() == before


@pytest.mark.parametrize("index_type", ["hnsw", "ivf"])
def test_when_approximate_index_then_neighbours_match_exact_search(harness: Harness, index_type: str) -> None:
    vectors, ids = _filled(harness.store, 400, index_type=index_type)
    harness.settle()  # IVF trains in the background once there are enough vectors
    exact = vectors @ vectors[:20].T
    recall = []
    for i in range(20):
        hits = harness.store.search("tenant-a", "docs", vectors[i], 10)
        assert hits[0].record_id == ids[i]
        truth = {ids[j] for j in np.argsort(-exact[:, i])[:10]}
        recall.append(len(truth & {h.record_id for h in hits}) / 10)
    assert np.mean(recall) >= 0.8


# Listing and sampling (migration, console)


def test_when_records_are_listed_then_every_id_comes_in_insertion_order(store: Store) -> None:
    _, first = _filled(store, 4)
    second = store.put("tenant-a", "docs", chunks_for(unit_vectors(2, seed=1), prefix="later"), None)
    assert store.record_ids("tenant-a", "docs") == first + second
    store.delete_document("tenant-a", "docs", "doc-1")
    replaced = store.put("tenant-a", "docs", chunks_for(unit_vectors(1, seed=2)), None, replace=True)  # doc-0
    assert store.record_ids("tenant-a", "docs") == [first[2], first[3], *second, *replaced]


def test_when_records_are_listed_for_another_tenant_or_an_empty_collection_then_none_leak(store: Store) -> None:
    _filled(store, 3)
    store.create_collection(collection(tenant="tenant-b"))
    assert store.record_ids("tenant-b", "docs") == []
    with pytest.raises(NotFound):
        store.record_ids("tenant-c", "docs")
    with pytest.raises(NotFound):
        store.record_ids("tenant-a", "missing")


def test_when_sampled_then_every_nth_vector_opens_with_its_creation_time(store: Store) -> None:
    vectors, _ = _filled(store, 10)
    store.create_collection(collection(tenant="tenant-b"))  # same name, another tenant: never mixed in
    store.put("tenant-b", "docs", chunks_for(unit_vectors(5, seed=4)), None)
    sample = store.sample_vectors("tenant-a", "docs", 4)  # 10 chunks, at most 4: every 3rd (0, 3, 6, 9)
    assert (sample.total, sample.unreadable, sample.vectors.dtype) == (10, 0, np.float32)
    assert np.allclose(sample.vectors, vectors[[0, 3, 6, 9]])
    assert len(sample.created_at) == 4 and sample.created_at == sorted(sample.created_at)
    every = store.sample_vectors("tenant-a", "docs", 100)
    assert np.allclose(every.vectors, vectors) and len(every.created_at) == 10


def test_when_a_sampled_vector_does_not_open_then_it_is_skipped_and_counted(harness: Harness) -> None:
    _, ids = _filled(harness.store, 6)
    harness.tamper(ids[2], "vector")
    sample = harness.store.sample_vectors("tenant-a", "docs", 100)
    assert (sample.total, sample.unreadable, sample.vectors.shape) == (6, 1, (5, 384))
    assert len(sample.created_at) == 5


def test_when_an_empty_foreign_or_unbounded_sample_is_asked_then_empty_not_found_or_refused(store: Store) -> None:
    store.create_collection(collection())
    empty = store.sample_vectors("tenant-a", "docs", 10)
    assert (empty.total, empty.unreadable, empty.created_at, empty.vectors.shape) == (0, 0, [], (0, 384))
    with pytest.raises(NotFound):
        store.sample_vectors("tenant-b", "docs", 10)
    with pytest.raises(BadRequest):
        store.sample_vectors("tenant-a", "docs", 0)


def test_when_flushed_then_no_background_index_work_is_pending(store: Store) -> None:
    _filled(store, 60)  # past TEST_SETTINGS.snapshot_every: a snapshot is scheduled in the background
    store.flush()
    assert store.health()["index_background_pending"] == 0


# Integrity and confidentiality


@pytest.mark.parametrize("column", ["vector", "text", "metadata", "provenance", "document_id"])
def test_when_a_stored_byte_is_flipped_then_get_fails_and_search_skips_it(harness: Harness, column: str) -> None:
    vectors, ids = _filled(harness.store, 10)
    harness.tamper(ids[4], column)
    with pytest.raises(DecryptionFailed):
        harness.store.get("tenant-a", "docs", ids[4])
    hits = harness.store.search("tenant-a", "docs", vectors[4], 5)
    assert len(hits) == 5 and ids[4] not in {h.record_id for h in hits}
    assert [(f.record_id, f.operation) for f in harness.failures] == [(ids[4], "get"), (ids[4], "search")]


def test_when_tenant_shredded_then_its_records_are_unreadable_and_unsearchable(harness: Harness) -> None:
    vectors, ids = _filled(harness.store, 10)
    harness.store.create_collection(collection(tenant="tenant-b"))
    b_ids = harness.store.put("tenant-b", "docs", chunks_for(vectors), None)
    backup = harness.raw(ids[0], "vector")  # a copy that outlives the shred, as a backup would
    assert harness.store.shred_tenant("tenant-a") == 10
    with pytest.raises(DecryptionFailed):
        harness.envelope.decrypt(RecordContext("tenant-a", "docs", f"{ids[0]}/vector", "1.0.0"), backup)
    with pytest.raises(NotFound):
        harness.store.get("tenant-a", "docs", ids[0])
    with pytest.raises(NotFound):
        harness.store.search("tenant-a", "docs", vectors[0], 5)
    assert harness.store.list_collections("tenant-a") == []
    # The change sequence named the tenant's collections; a shred leaves no name behind (issue 17).
    assert harness.change_collections("tenant-a") == [] and harness.change_collections("tenant-b")
    harness.reopen()
    assert harness.store.list_collections("tenant-a") == []
    assert harness.store.search("tenant-b", "docs", vectors[0], 1)[0].record_id == b_ids[0]


def test_when_storage_is_scanned_then_no_plaintext_or_vector_bytes_are_found(harness: Harness) -> None:
    text_marker, meta_marker = f"TEXT-{uuid.uuid4().hex}", f"META-{uuid.uuid4().hex}"
    harness.store.create_collection(collection(index_type="hnsw"))
    vectors = unit_vectors(60, seed=3)
    batch = [chunk(f"d{i}", 0, v, f"{text_marker} {i}", {"owner": meta_marker}) for i, v in enumerate(vectors)]
    harness.store.put("tenant-a", "docs", batch, None)
    harness.settle()
    needles = [text_marker.encode(), meta_marker.encode()] + [v.tobytes()[:32] for v in vectors]
    needles += [v.astype(">f4").tobytes()[:32] for v in vectors[:5]]

    def leaks() -> list[str]:
        return [name for name, data in harness.stored_files() if any(n in data for n in needles)]

    assert leaks() == []  # while open: database, WAL and the snapshots written so far
    harness.reopen()
    harness.store.close()
    assert leaks() == []  # after close: the final snapshots too
    assert any(name.endswith(".faiss.enc") for name, _ in harness.stored_files())


def test_when_health_asked_then_it_reports_ok(store: Store) -> None:
    _filled(store, 3)
    health = store.health()
    assert health["ok"] is True and health["chunks"] == 3


def test_when_writes_are_reconciled_then_only_uncommitted_entries_are_marked_once_and_stay_unwritable(
    store: Store,
) -> None:
    store.create_collection(collection())
    store.put("tenant-a", "docs", chunks_for(unit_vectors(2)), 7)
    assert store.mark_unfinished([7, 8, 9]) == [8, 9]
    assert store.mark_unfinished([7, 8, 9]) == []  # once, whoever asks again (another replica)
    with pytest.raises(Conflict):  # a write that comes after all would contradict the log: refused
        store.put("tenant-a", "docs", chunks_for(unit_vectors(1, seed=5), prefix="late"), 8)
    assert len(store.record_ids("tenant-a", "docs")) == 2
    assert store.mark_unfinished([]) == []
