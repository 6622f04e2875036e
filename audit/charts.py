"""Inline SVG charts for the report: no scripts, no external assets, readable when printed."""

from __future__ import annotations

from html import escape

PALETTE = {
    "allow": "#2e7d32",
    "deny": "#c62828",
    "block": "#ef6c00",
    "error": "#6a1b9a",
    "redact": "#1565c0",
    "mask": "#00838f",
    "allow_action": "#2e7d32",
}
_FALLBACK = ("#455a64", "#8d6e63", "#f9a825", "#5c6bc0", "#26a69a", "#d81b60")


def _color(name: str, i: int) -> str:
    return PALETTE.get(name, _FALLBACK[i % len(_FALLBACK)])


def stacked_bars(title: str, categories: list[str], series: dict[str, list[int]], height: int = 220) -> str:
    """A vertical stacked bar chart; ``series[name][i]`` is the value of ``name`` in ``categories[i]``."""
    if not categories:
        return f'<p class="empty">{escape(title)}: no data.</p>'
    bar, gap, left, top, bottom = 28, 10, 40, 24, 70
    width = left + len(categories) * (bar + gap) + 150
    totals = [sum(values[i] for values in series.values()) for i in range(len(categories))]
    peak = max(max(totals), 1)
    scale = (height - top - bottom) / peak
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<text x="{left}" y="14" font-weight="bold">{escape(title)}</text>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{peak}</text>',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 150}" y2="{height - bottom}" stroke="#999"/>',
    ]
    for i, label in enumerate(categories):
        x, y = left + gap / 2 + i * (bar + gap), float(height - bottom)
        for j, (name, values) in enumerate(series.items()):
            h = values[i] * scale
            if h > 0:
                y -= h
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar}" height="{h:.1f}" fill="{_color(name, j)}">'
                    f"<title>{escape(label)} {escape(name)}: {values[i]}</title></rect>"
                )
        lx, ly = x + bar / 2, height - bottom + 10
        parts.append(f'<text x="{lx:.1f}" y="{ly}" transform="rotate(45 {lx:.1f} {ly})">{escape(label[-16:])}</text>')
    for j, name in enumerate(series):
        ly = top + j * 16
        parts.append(f'<rect x="{width - 140}" y="{ly}" width="10" height="10" fill="{_color(name, j)}"/>')
        parts.append(f'<text x="{width - 125}" y="{ly + 9}">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)
