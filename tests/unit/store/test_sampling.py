"""``Store.sample_vectors`` as both SQL backends compute it: every n-th chunk, bounded, bad ciphertexts skipped."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gateway.errors import DecryptionFailed
from gateway.store.base import Collection, VectorSample
from gateway.store.sampling import SqlSampler
from tests.unit.store import store_kit
from tests.unit.store.store_kit import TEST_SETTINGS, Harness, SQLiteHarness

COLL = Collection("acme", "kb", "m", "1.0.0", 4, "flat", False)


class FakeCodec:
    def __init__(self, bad: set[str]) -> None:
        self.bad = bad

    def open_vector(self, c: Collection, record_id: str, blob: bytes) -> np.ndarray:
        if record_id in self.bad:
            raise DecryptionFailed()
        return np.frombuffer(blob, dtype=np.float32)


class FakeQuery:
    """Answers the count, then the sample; records the parameters it was asked with."""

    def __init__(self, total: int, rows: list[tuple[str, str, bytes]]) -> None:
        self.total, self.rows = total, rows
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __call__(self, sql: str, params: tuple[Any, ...]) -> Sequence[Sequence[Any]]:
        self.calls.append((sql, params))
        return [(self.total,)] if sql.startswith("SELECT count") else self.rows


def test_when_a_collection_is_larger_than_the_cap_then_every_nth_chunk_is_sampled_and_bad_ones_skipped() -> None:
    vec = np.ones(4, dtype=np.float32).tobytes()
    query = FakeQuery(12_001, [("r1", "t1", vec), ("r2", "t2", vec), ("r3", "t3", vec)])
    sample = SqlSampler(query, FakeCodec({"r2"}), "?").sample(COLL, 5000)
    assert query.calls[1][1] == ("acme", "kb", 3, 5000)  # ceil(12001 / 5000) = 3, tenant always named
    assert all("tenant = ?" in sql for sql, _ in query.calls)
    assert sample == VectorSample(["t1", "t3"], sample.vectors, 12_001, 1) and sample.vectors.shape == (2, 4)


def test_when_a_collection_is_empty_then_no_sample_query_at_all() -> None:
    query = FakeQuery(0, [])
    sample = SqlSampler(query, FakeCodec(set()), "%s").sample(COLL, 5000)
    assert len(query.calls) == 1 and sample.vectors.shape == (0, 4) and sample.total == 0


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_when_sampled_from_a_real_backend_then_every_nth_vector_opens_with_its_time_and_tampered_ones_are_skipped(
    backend: str, tmp_path: Path
) -> None:
    harness: Harness
    if backend == "sqlite":
        harness = SQLiteHarness(tmp_path / "data")
    else:
        from tests.unit.backends.postgres.pgkit import PostgresHarness

        harness = PostgresHarness(TEST_SETTINGS)
    try:
        c = harness.store.create_collection(store_kit.collection())
        vectors = store_kit.unit_vectors(10)
        ids = harness.store.put(c.tenant, c.name, store_kit.chunks_for(vectors), None)
        harness.tamper(ids[4], "vector")
        harness.store.create_collection(store_kit.collection("tenant-b"))  # same name, another tenant: not mixed in
        harness.store.put("tenant-b", c.name, store_kit.chunks_for(store_kit.unit_vectors(3, seed=5)), None)
        sample = harness.store.sample_vectors(c.tenant, c.name, 4)  # 10 chunks, cap 4: every 3rd (0, 3, 6, 9)
        assert sample.total == 10 and sample.unreadable == 0
        assert np.allclose(sample.vectors, vectors[[0, 3, 6, 9]])
        assert len(sample.created_at) == 4 and sample.created_at == sorted(sample.created_at)
        every = harness.store.sample_vectors(c.tenant, c.name, 100)
        assert every.unreadable == 1 and len(every.created_at) == 9  # the tampered 5th is left out
    finally:
        harness.close()
