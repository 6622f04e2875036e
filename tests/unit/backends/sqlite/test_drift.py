"""Drift state in the local database: baselines sealed with the tenant's data key, window series, shred and
retention (``MemoryDriftRepository`` stands in for this in the monitor's own tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.backends.sqlite.drift import SQLiteDriftRepository
from gateway.crypto import Envelope, InMemoryDataKeyRepository, Keyring, SecretBytes
from gateway.drift.measure import Baseline
from gateway.drift.repository import WindowRow

DIM = 8


@pytest.fixture
def repo(tmp_path: Path) -> SQLiteDriftRepository:
    kek = Keyring(active=1, keys={1: SecretBytes(bytes(range(32)))})
    return SQLiteDriftRepository(SQLiteDatabase(tmp_path / "store.db"), Envelope(kek, InMemoryDataKeyRepository()))


def _baseline() -> Baseline:
    rng = np.random.default_rng(7)
    centroids = rng.normal(size=(3, DIM)).astype(np.float32)
    return Baseline(centroids, centroids[0].copy(), 0.125, 0.5, 42)


def _window(closed_at: str) -> WindowRow:
    return WindowRow(closed_at, 10, 0.1, 0.2, 0.3, ("centroid_shift",))


def test_when_a_baseline_is_saved_then_it_loads_back_and_its_centroids_are_not_in_the_file(
    repo: SQLiteDriftRepository, tmp_path: Path
) -> None:
    baseline = _baseline()
    repo.save_baseline("acme", "docs", "1.0", baseline, "2025-01-01T00:00:00+00:00")

    info = repo.load_baseline("acme", "docs", "1.0", DIM)

    assert info is not None and (info.model_version, info.created_at) == ("1.0", "2025-01-01T00:00:00+00:00")
    assert np.array_equal(info.baseline.centroids, baseline.centroids) and info.baseline.count == 42
    on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert baseline.centroids.astype("<f4").tobytes()[:16] not in on_disk
    assert repo.load_baseline("acme", "docs", "2.0", DIM) is None  # another embedding space: no baseline


def test_when_windows_are_added_then_the_latest_come_back_oldest_first(repo: SQLiteDriftRepository) -> None:
    for day in (1, 2, 3):
        repo.add_window("acme", "docs", _window(f"2025-01-0{day}T00:00:00+00:00"))

    assert [w.closed_at[:10] for w in repo.windows("acme", "docs", 2)] == ["2025-01-02", "2025-01-03"]
    assert repo.windows("acme", "docs", 1)[0] == _window("2025-01-03T00:00:00+00:00")
    assert repo.windows("globex", "docs", 5) == []


def test_when_a_collection_is_forgotten_then_only_its_rows_go(repo: SQLiteDriftRepository) -> None:
    for collection in ("docs", "notes"):
        repo.save_baseline("acme", collection, "1.0", _baseline(), "2025-01-01T00:00:00+00:00")
        repo.add_window("acme", collection, _window("2025-01-02T00:00:00+00:00"))

    repo.forget("acme", "docs")

    assert repo.load_baseline("acme", "docs", "1.0", DIM) is None and repo.windows("acme", "docs", 5) == []
    assert repo.load_baseline("acme", "notes", "1.0", DIM) is not None
    assert len(repo.windows("acme", "notes", 5)) == 1


def test_when_purged_before_a_cutoff_then_older_windows_and_an_older_baseline_go(
    repo: SQLiteDriftRepository,
) -> None:
    repo.save_baseline("acme", "docs", "1.0", _baseline(), "2025-01-01T00:00:00+00:00")
    for day in (1, 2, 3):
        repo.add_window("acme", "docs", _window(f"2025-01-0{day}T00:00:00+00:00"))

    assert repo.purge_before("acme", "docs", "2025-01-02T00:00:00+00:00", baseline=False) == 2  # a window, the baseline
    assert [w.closed_at[:10] for w in repo.windows("acme", "docs", 5)] == ["2025-01-02", "2025-01-03"]
    assert repo.load_baseline("acme", "docs", "1.0", DIM) is None
