"""A 2-D picture of a collection's vectors over time: PCA by SVD, points grouped into time windows.

Pure functions over numbers. The points are split into windows of equal count in creation order rather
than of equal duration: ingestion is bursty, and equal-duration windows would leave most of them empty. PCA
rather than UMAP because it is deterministic, needs no extra dependency, and preserves global geometry, so a
window that moved away from the others is seen to have moved. Two coordinates of thousands of (already
noised) vectors reveal nothing of any single text; the page shows no record, document or text at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gateway.errors import BadRequest

MAX_POINTS = 5000
DEFAULT_WINDOWS = 5
MIN_WINDOWS, MAX_WINDOWS = 2, 8


@dataclass(frozen=True)
class Window:
    """One time window of the projection: its first and last creation time and how many points it holds."""

    start: str
    end: str
    count: int


@dataclass(frozen=True)
class Projection:
    points: np.ndarray  # (n, 2) float64, principal-component coordinates
    window_of: np.ndarray  # (n,) int, index into ``windows`` of each point
    windows: list[Window]
    explained: tuple[float, float]  # share of the variance along each of the two axes
    total: int  # vectors in the collection (the points may be a sample of them)


def parse_windows(raw: str | None) -> int:
    """The ``windows`` query parameter; a bad value is a 400, never a silent default."""
    if raw is None or raw == "":
        return DEFAULT_WINDOWS
    if not (raw.isascii() and raw.isdigit()) or not MIN_WINDOWS <= int(raw) <= MAX_WINDOWS:  # int() fails on '²'
        raise BadRequest(f"'windows' must be an integer from {MIN_WINDOWS} to {MAX_WINDOWS}", param="windows")
    return int(raw)


def pca_2d(vectors: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """Coordinates on the first two principal axes and their shares of the variance.

    The sign of each axis is fixed (its largest loading positive), so the same data always draws the same way.
    """
    data = np.asarray(vectors, dtype=np.float64)
    n = data.shape[0]
    if n == 0:
        return np.zeros((0, 2)), (0.0, 0.0)
    centred = data - data.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    axes = np.zeros((2, data.shape[1]))
    axes[: min(2, vt.shape[0])] = vt[:2]
    for i in range(2):
        if axes[i, int(np.argmax(np.abs(axes[i])))] < 0:
            axes[i] = -axes[i]
    variance = float((s**2).sum())
    shares = [float(s[i] ** 2) / variance if variance > 0 and i < len(s) else 0.0 for i in range(2)]
    return centred @ axes.T, (shares[0], shares[1])


def split_windows(created_at: Sequence[str], windows: int) -> tuple[np.ndarray, list[Window]]:
    """Window index of each point (points ordered by creation time into ``windows`` equal-count groups)."""
    n = len(created_at)
    order = sorted(range(n), key=lambda i: created_at[i])  # ISO 8601 in UTC sorts as text
    count = max(1, min(windows, n))
    window_of = np.zeros(n, dtype=np.int64)
    result: list[Window] = []
    for members in np.array_split(np.asarray(order, dtype=np.int64), count):
        if len(members) == 0:
            continue
        window_of[members] = len(result)
        result.append(Window(created_at[int(members[0])], created_at[int(members[-1])], len(members)))
    return window_of, result


def project(created_at: Sequence[str], vectors: np.ndarray, windows: int = DEFAULT_WINDOWS,
            total: int | None = None) -> Projection:
    """The projection of (a sample of) a collection: one creation time per vector row."""
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[0] != len(created_at):
        raise ValueError("one creation time per vector row is needed")
    points, explained = pca_2d(matrix)
    window_of, spans = split_windows(created_at, windows)
    return Projection(points, window_of, spans, explained, len(created_at) if total is None else total)
