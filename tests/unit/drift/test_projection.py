"""The projection of a collection's vectors over time: PCA by SVD, points split into equal-count time windows."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.drift.projection import parse_windows, pca_2d, project, split_windows
from gateway.errors import BadRequest

TIMES = [f"2025-01-01T00:00:{i:02d}+00:00" for i in range(40)]


def clusters(seed: int = 7) -> np.ndarray:
    """40 vectors: the first 20 near e0, the last 20 near e1 (so time separates them in the projection)."""
    rng = np.random.default_rng(seed)
    base = np.zeros((40, 4))
    base[:20, 0], base[20:, 1] = 1.0, 1.0
    return np.asarray(base + rng.normal(0, 0.05, base.shape), dtype=np.float32)


def test_when_two_periods_differ_then_the_first_axis_separates_their_windows() -> None:
    p = project(TIMES, clusters(), windows=2)
    assert [w.count for w in p.windows] == [20, 20] and p.total == 40
    first, second = p.points[p.window_of == 0, 0], p.points[p.window_of == 1, 0]
    assert first.max() < second.min() or second.max() < first.min()
    assert p.explained[0] > 0.8 and 0 <= p.explained[1] <= 1 - p.explained[0] + 1e-9


def test_when_projected_twice_or_with_flipped_data_then_the_drawing_is_the_same() -> None:
    a, _ = pca_2d(clusters())
    b, _ = pca_2d(clusters())
    c, _ = pca_2d(-clusters())  # the same cloud mirrored: the sign convention draws it the same way up to that
    assert np.allclose(a, b)
    assert np.allclose(np.abs(a), np.abs(c), atol=1e-5)


def test_when_times_arrive_unordered_then_windows_follow_creation_time() -> None:
    times = ["2025-01-03", "2025-01-01", "2025-01-04", "2025-01-02"]
    window_of, windows = split_windows(times, 2)
    assert list(window_of) == [1, 0, 1, 0]
    assert [(w.start, w.end, w.count) for w in windows] == [("2025-01-01", "2025-01-02", 2),
                                                            ("2025-01-03", "2025-01-04", 2)]


def test_when_there_are_fewer_points_than_windows_or_none_then_no_empty_window_and_no_error() -> None:
    assert len(project(TIMES[:3], clusters()[:3], windows=5).windows) == 3
    empty = project([], np.zeros((0, 4), dtype=np.float32))
    assert empty.points.shape == (0, 2) and empty.windows == []
    flat = project(TIMES[:5], np.ones((5, 4), dtype=np.float32))
    assert np.allclose(flat.points, 0) and flat.explained == (0.0, 0.0)


@pytest.mark.parametrize("raw", ["1", "9", "x", "-3", "2.5"])
def test_when_windows_is_out_of_range_then_400(raw: str) -> None:
    with pytest.raises(BadRequest):
        parse_windows(raw)


def test_when_windows_is_absent_then_the_default() -> None:
    assert parse_windows(None) == 5 and parse_windows("6") == 6
