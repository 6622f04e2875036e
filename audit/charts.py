"""Inline SVG charts for the report: no scripts, no external assets, readable when printed.

Every label is drawn in full: the margins grow with the longest label (at about 7 px per character of the
11 px font) instead of clipping it, and each bar carries a tooltip with its exact value.
"""

from __future__ import annotations

import math
from html import escape

PALETTE = {
    "allow": "#2e7d32",
    "deny": "#c62828",
    "block": "#ef6c00",
    "error": "#6a1b9a",
    "partial": "#f9a825",
    "redact": "#1565c0",
    "mask": "#00838f",
    "allow_action": "#2e7d32",
}
_FALLBACK = ("#455a64", "#8d6e63", "#5c6bc0", "#26a69a", "#d81b60", "#795548")
CHAR_PX = 7.0
FONT = 12


def _color(name: str, i: int) -> str:
    return PALETTE.get(name, _FALLBACK[i % len(_FALLBACK)])


def _text_px(text: str) -> float:
    return len(text) * CHAR_PX


def _nice_max(peak: int) -> int:
    """A round axis maximum at or above ``peak`` (1, 2, 5 times a power of ten)."""
    if peak <= 1:
        return 1
    power: int = 10 ** math.floor(math.log10(peak))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= peak)


def _legend(series: list[str], x: float, top: float) -> list[str]:
    parts = []
    for j, name in enumerate(series):
        y = top + j * 18
        parts.append(f'<rect x="{x:.0f}" y="{y:.0f}" width="12" height="12" fill="{_color(name, j)}"/>')
        parts.append(f'<text x="{x + 18:.0f}" y="{y + 10:.0f}">{escape(name)}</text>')
    return parts


def stacked_bars(title: str, categories: list[str], series: dict[str, list[int]], height: int = 320) -> str:
    """A vertical stacked bar chart; ``series[name][i]`` is the value of ``name`` in ``categories[i]``."""
    if not categories:
        return f'<p class="empty">{escape(title)}: no data.</p>'
    totals = [sum(values[i] for values in series.values()) for i in range(len(categories))]
    axis_max = _nice_max(max(totals))
    label_px = max(_text_px(c) for c in categories)
    bar, gap, top = 26, 12, 36
    left = 16 + _text_px(str(axis_max))
    bottom = 24 + label_px * math.sin(math.radians(45)) + FONT
    legend_w = 40 + max(_text_px(s) for s in series)
    plot_w = len(categories) * (bar + gap)
    width = left + plot_w + label_px * 0.75 + legend_w
    total_h = height + bottom
    base = top + height - 40
    scale = (base - top) / axis_max
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width:.0f}" height="{total_h:.0f}" '
        f'viewBox="0 0 {width:.0f} {total_h:.0f}" font-family="sans-serif" font-size="{FONT}">',
        f"<title>{escape(title)}</title>",
        f'<text x="4" y="18" font-weight="bold" font-size="{FONT + 2}">{escape(title)}</text>',
    ]
    for tick in (0, axis_max // 2, axis_max):
        y = base - tick * scale
        parts.append(f'<text x="{left - 6:.0f}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>')
        parts.append(f'<line x1="{left:.0f}" y1="{y:.1f}" x2="{left + plot_w:.0f}" y2="{y:.1f}" stroke="#ddd"/>')
    for i, label in enumerate(categories):
        x, y = left + gap / 2 + i * (bar + gap), base
        for j, (name, values) in enumerate(series.items()):
            h = values[i] * scale
            if h > 0:
                y -= h
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar}" height="{h:.1f}" fill="{_color(name, j)}">'
                    f"<title>{escape(label)} {escape(name)}: {values[i]}</title></rect>"
                )
        lx, ly = x + bar / 2, base + 14
        parts.append(f'<text x="{lx:.1f}" y="{ly:.1f}" transform="rotate(45 {lx:.1f} {ly:.1f})">{escape(label)}</text>')
    parts += _legend(list(series), left + plot_w + label_px * 0.75 + 16, top)
    parts.append("</svg>")
    return "".join(parts)


def horizontal_bars(title: str, categories: list[str], series: dict[str, list[int]]) -> str:
    """Stacked horizontal bars, one row per category: for long category names (entity types, event types)."""
    if not categories:
        return f'<p class="empty">{escape(title)}: no data.</p>'
    totals = [sum(values[i] for values in series.values()) for i in range(len(categories))]
    axis_max = _nice_max(max(totals))
    left = 16 + max(_text_px(c) for c in categories)
    plot_w, row, top = 420, 24, 36
    legend_w = 40 + max(_text_px(s) for s in series)
    width = left + plot_w + 40 + legend_w
    height = top + len(categories) * row + 30
    scale = plot_w / axis_max
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif" font-size="{FONT}">',
        f"<title>{escape(title)}</title>",
        f'<text x="4" y="18" font-weight="bold" font-size="{FONT + 2}">{escape(title)}</text>',
    ]
    for i, label in enumerate(categories):
        y = top + i * row
        parts.append(f'<text x="{left - 8:.0f}" y="{y + 15}" text-anchor="end">{escape(label)}</text>')
        x = left
        for j, (name, values) in enumerate(series.items()):
            w = values[i] * scale
            if w > 0:
                parts.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" '
                             f'fill="{_color(name, j)}"><title>{escape(label)} {escape(name)}: {values[i]}</title>'
                             "</rect>")
                x += w
        parts.append(f'<text x="{x + 4:.1f}" y="{y + 15}">{totals[i]}</text>')
    axis_y = top + len(categories) * row + 4
    parts.append(f'<line x1="{left:.0f}" y1="{axis_y}" x2="{left + plot_w:.0f}" y2="{axis_y}" stroke="#999"/>')
    parts.append(f'<text x="{left + plot_w:.0f}" y="{axis_y + 16}" text-anchor="end">{axis_max}</text>')
    parts += _legend(list(series), left + plot_w + 40, top)
    parts.append("</svg>")
    return "".join(parts)
