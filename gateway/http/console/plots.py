"""Inline SVG for the projection page: a scatter coloured by window, and drift lines against thresholds.

Shapes and numbers only, styled with SVG presentation attributes (``fill``, ``stroke``) because the console's
Content-Security-Policy admits exactly one hashed stylesheet and no ``style`` attribute. The scatter carries
no text element of any kind: nothing in it names a record, a document or a chunk.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gateway.drift.projection import Projection
from gateway.http.console.pages import esc

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
COLOURS = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000")
_SIZE, _PAD = 560, 16
_W, _H, _LEFT, _TOP, _BOTTOM = 560, 160, 56, 12, 22


def colour(window: int) -> str:
    return COLOURS[window % len(COLOURS)]


def _fit(points: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates with one scale for both axes, so distances in the picture stay faithful."""
    if len(points) == 0:
        return np.zeros(0), np.zeros(0)
    centre = (points.max(axis=0) + points.min(axis=0)) / 2
    half = float((points.max(axis=0) - points.min(axis=0)).max()) / 2 or 1.0
    unit = (points - centre) / half  # within [-1, 1] on the wider axis
    mid, reach = (lo + hi) / 2, (hi - lo) / 2
    return mid + unit[:, 0] * reach, mid - unit[:, 1] * reach  # y grows upwards, as on paper


def scatter(p: Projection) -> str:
    """One circle per point; later windows are drawn over earlier ones."""
    x, y = _fit(p.points, _PAD, _SIZE - _PAD)
    radius = 3.0 if len(p.points) <= 1000 else 2.0
    order = np.argsort(p.window_of, kind="stable")
    dots = "".join(
        f"<circle cx='{x[i]:.1f}' cy='{y[i]:.1f}' r='{radius}' fill='{colour(int(p.window_of[i]))}' "
        "fill-opacity='0.75'/>"
        for i in order
    )
    return (
        f"<svg id='projection' xmlns='http://www.w3.org/2000/svg' role='img' aria-label='2-D projection' "
        f"width='{_SIZE}' height='{_SIZE}' viewBox='0 0 {_SIZE} {_SIZE}'>"
        f"<rect x='0.5' y='0.5' width='{_SIZE - 1}' height='{_SIZE - 1}' fill='#ffffff' stroke='#d5d9de'/>"
        f"{dots}</svg>"
    )


def legend(p: Projection) -> str:
    """Each window's colour, time span and size, as an ordered list beside the scatter."""
    items = "".join(
        f"<li><svg width='12' height='12' aria-hidden='true'><circle cx='6' cy='6' r='5' fill='{colour(i)}'/>"
        f"</svg> {esc(w.start[:19])} to {esc(w.end[:19])} ({w.count} points)</li>"
        for i, w in enumerate(p.windows)
    )
    return f"<ol id='legend'>{items}</ol>"


def line_chart(name: str, values: Sequence[float], threshold: float) -> str:
    """One drift measure per closed window, with its alert threshold as a dashed red line."""
    peak = max([threshold, *values]) * 1.1 or 1.0
    right, bottom = _W - 8, _H - _BOTTOM

    def ypos(v: float) -> float:
        return bottom - v / peak * (bottom - _TOP)

    step = (right - _LEFT) / max(1, len(values) - 1)
    xs = [_LEFT + i * step if len(values) > 1 else (_LEFT + right) / 2 for i in range(len(values))]
    path = " ".join(f"{x:.1f},{ypos(v):.1f}" for x, v in zip(xs, values, strict=True))
    marks = "".join(
        f"<circle cx='{x:.1f}' cy='{ypos(v):.1f}' r='3' fill='{'#b71c1c' if v >= threshold else '#0072b2'}'/>"
        for x, v in zip(xs, values, strict=True)
    )
    t = ypos(threshold)
    return (
        f"<svg class='drift' id='drift-{esc(name)}' xmlns='http://www.w3.org/2000/svg' role='img' "
        f"aria-label='{esc(name)}' width='{_W}' height='{_H}' viewBox='0 0 {_W} {_H}' font-family='sans-serif' "
        f"font-size='10'><rect x='0.5' y='0.5' width='{_W - 1}' height='{_H - 1}' fill='#ffffff' stroke='#d5d9de'/>"
        f"<line x1='{_LEFT}' y1='{bottom}' x2='{right}' y2='{bottom}' stroke='#999999'/>"
        f"<line class='threshold' x1='{_LEFT}' y1='{t:.1f}' x2='{right}' y2='{t:.1f}' stroke='#b71c1c' "
        "stroke-dasharray='6 4'/>"
        f"<text x='{_LEFT - 4}' y='{t + 3:.1f}' text-anchor='end' fill='#b71c1c'>{threshold:g}</text>"
        f"<text x='{_LEFT - 4}' y='{bottom + 3}' text-anchor='end'>0</text>"
        f"<polyline points='{path}' fill='none' stroke='#0072b2' stroke-width='1.5'/>{marks}</svg>"
    )
