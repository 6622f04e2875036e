"""Tables, the default choice, the risk-vs-utility plot and the files the privacy bench writes."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "privacy.md"
PLOT = ROOT / "docs" / "img" / "privacy-risk-utility.svg"
DATA = ROOT / "gateway" / "privacy" / "data"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
NAME_CHANCE = 0.05


def fmt_row(row: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())


def choose_default(rows: Sequence[dict[str, Any]], defences: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Keep search useful (recall@10 >= 0.9 of clean), then names near chance, then the least inversion."""
    clean_recall = rows[0]["recall_at_10"]
    useful = [d for d in defences if d["recall_at_10"] >= 0.9 * clean_recall] or list(defences)
    safe = [d for d in useful if d["name_accuracy"] <= 2 * NAME_CHANCE]
    if safe:
        return dict(min(safe, key=lambda d: (d["bow_f1"], d["subspace_dims"])))
    return dict(min(useful, key=lambda d: d["name_accuracy"]))


def render(
    rows: Sequence[dict[str, Any]],
    pii: dict[str, float],
    defences: Sequence[dict[str, Any]],
    chosen: dict[str, Any],
) -> str:
    clean_f1 = rows[0]["bow_f1"]
    lines = [
        "### Isotropic keyed noise alone",
        "",
        "| sigma | recall@10 vs clean | bag-of-words F1 (rel. clean) | re-id top-1 of 100 (chance 0.01) "
        "| re-id of 2: measured / bound Phi(D/2sigma) | which-of-20-names (chance 0.05) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['sigma']:g} | {r['recall_at_10']:.3f} | {r['bow_f1']:.3f} ({r['bow_f1'] / clean_f1:.2f}) "
            f"| {r['reid_top1_of_100']:.3f} | {r['reid_pair']:.3f} / {r['reid_pair_bound']:.3f} "
            f"| {r['name_accuracy']:.3f} |"
        )
    lines += [
        "",
        "### The PII stage as the first line (sigma 0, no transform)",
        "",
        "| text the model sees | which-of-20-names accuracy (chance 0.05) |",
        "|---|---|",
        f"| original | {rows[0]['name_accuracy']:.3f} |",
        f"| names redacted to `<PERSON>` | {pii['redacted']:.3f} |",
        f"| names pseudonymized (fresh random name) | {pii['pseudonymized']:.3f} |",
        "",
        "### Keyed transform: name-subspace removal + per-tenant rotation (+ noise)",
        "",
        "Attacker *with* the tenant's labelled pairs (trains on the protected vectors themselves) and "
        "attacker *without* the key (trains in the public model's space, meets rotated vectors).",
        "",
        "| removed dims | sigma | recall@10 | BoW F1 with pairs (rel.) | names with pairs "
        "| BoW F1 keyless (rel.) | names keyless |",
        "|---|---|---|---|---|---|---|",
    ]
    for d in defences:
        mark = " **(default)**" if _same(d, chosen) else ""
        lines.append(
            f"| {d['subspace_dims']}{mark} | {d['sigma']:g} | {d['recall_at_10']:.3f} "
            f"| {d['bow_f1']:.3f} ({d['bow_f1'] / clean_f1:.2f}) | {d['name_accuracy']:.3f} "
            f"| {d['bow_f1_keyless']:.3f} ({d['bow_f1_keyless'] / clean_f1:.2f}) "
            f"| {d['name_accuracy_keyless']:.3f} |"
        )
    return "\n".join(lines)


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return bool(a["subspace_dims"] == b["subspace_dims"] and a["sigma"] == b["sigma"])


def svg(rows: Sequence[dict[str, Any]], defences: Sequence[dict[str, Any]], chosen: dict[str, Any]) -> str:
    """Risk (attack success relative to clean) against utility (recall@10), one point per configuration."""
    w, h, m = 640, 420, 60
    clean_f1, clean_names = rows[0]["bow_f1"], rows[0]["name_accuracy"]

    def xy(recall: float, risk: float) -> tuple[float, float]:
        return m + (recall - 0.4) / 0.6 * (w - 2 * m), h - m - min(risk, 1.2) / 1.2 * (h - 2 * m)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" '
        'font-size="11">',
        f'<rect width="{w}" height="{h}" fill="white"/>',
    ]
    x0, y0 = xy(0.9, 0.6)
    x1, y1 = xy(1.0, 0.0)
    parts.append(f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{x1 - x0:.1f}" height="{y1 - y0:.1f}" '
                 'fill="#e6f4ea" stroke="#7cb342" stroke-dasharray="4 2"/>')
    parts.append(f'<text x="{x0 + 4:.1f}" y="{y0 + 14:.1f}" fill="#33691e">goal</text>')
    for tick in (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
        x, y = xy(tick, 0.0)
        parts.append(f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{x:.1f}" y2="{y + 4:.1f}" stroke="black"/>')
        parts.append(f'<text x="{x:.1f}" y="{y + 16:.1f}" text-anchor="middle">{tick:.1f}</text>')
    for tick in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2):
        x, y = xy(0.4, tick)
        parts.append(f'<line x1="{x - 4:.1f}" y1="{y:.1f}" x2="{x:.1f}" y2="{y:.1f}" stroke="black"/>')
        parts.append(f'<text x="{x - 6:.1f}" y="{y + 4:.1f}" text-anchor="end">{tick:.1f}</text>')
    ox, oy = xy(0.4, 0.0)
    ex, ty = xy(1.0, 1.2)
    parts.append(f'<path d="M{ox:.1f},{ty:.1f} V{oy:.1f} H{ex:.1f}" fill="none" stroke="black"/>')
    label_x = f'<text x="{w / 2:.0f}" y="{h - 20}" text-anchor="middle">'
    parts.append(label_x + "utility: recall@10 vs clean</text>")
    parts.append(f'<text x="16" y="{h / 2:.0f}" transform="rotate(-90 16 {h / 2:.0f})" text-anchor="middle">'
                 "risk: attack success / success on clean vectors</text>")
    series = [("bow_f1", clean_f1, "#1565c0", "BoW inversion F1, noise only"),
              ("name_accuracy", clean_names, "#e65100", "which-name accuracy, noise only")]
    for n, (key, base, colour, label) in enumerate(series):
        points = [xy(r["recall_at_10"], r[key] / base) for r in rows]
        parts.append('<polyline fill="none" stroke="{}" points="{}"/>'.format(
            colour, " ".join(f"{x:.1f},{y:.1f}" for x, y in points)))
        for r, (x, y) in zip(rows, points, strict=True):
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>')
            parts.append(f'<text x="{x + 4:.1f}" y="{y - 4:.1f}" fill="{colour}" font-size="9">'
                         f"{r['sigma']:g}</text>")
        parts.append(_legend(n, colour, label, "circle", w))
    shapes = [("bow_f1", clean_f1, "#1565c0", "square", "BoW F1, subspace+rotation, attacker with pairs"),
              ("name_accuracy", clean_names, "#e65100", "square", "names, subspace+rotation, with pairs"),
              ("bow_f1_keyless", clean_f1, "#1565c0", "triangle", "BoW F1, attacker without the key"),
              ("name_accuracy_keyless", clean_names, "#e65100", "triangle", "names, attacker without key")]
    for n, (key, base, colour, shape, label) in enumerate(shapes, start=len(series)):
        for d in defences:
            x, y = xy(d["recall_at_10"], d[key] / base)
            stroke = ' stroke="black" stroke-width="1.5"' if _same(d, chosen) else ""
            parts.append(_marker(shape, x, y, colour, stroke))
        parts.append(_legend(n, colour, label, shape, w))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _marker(shape: str, x: float, y: float, colour: str, extra: str = "") -> str:
    if shape == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"{extra}/>'
    if shape == "square":
        return f'<rect x="{x - 3:.1f}" y="{y - 3:.1f}" width="6" height="6" fill="{colour}"{extra}/>'
    d = f"M{x:.1f},{y - 4:.1f} L{x + 4:.1f},{y + 3:.1f} L{x - 4:.1f},{y + 3:.1f} Z"
    return f'<path d="{d}" fill="{colour}"{extra}/>'


def _legend(n: int, colour: str, label: str, shape: str, width: int) -> str:
    x, y = 75, 20 + 14 * n
    del width
    return _marker(shape, x, y - 4, colour) + f'<text x="{x + 8}" y="{y}">{label}</text>'


def write_all(
    report: str,
    rows: Sequence[dict[str, Any]],
    pii: dict[str, float],
    defences: Sequence[dict[str, Any]],
    chosen: dict[str, Any],
    basis: np.ndarray,
) -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    np.save(DATA / "name_subspace.npy", basis.astype(np.float32))
    curve = {
        "what": "bench/inversion.py, isotropic keyed noise only; bow_f1 = bag-of-words inversion F1",
        "model": "all-MiniLM-L6-v2",
        "points": [
            {k: r[k] for k in ("sigma", "bow_f1", "recall_at_10", "name_accuracy")} for r in rows
        ],
        "pii": pii,
        "defences": list(defences),
        "default": chosen,
    }
    (DATA / "curve.json").write_text(json.dumps(curve, indent=1) + "\n", encoding="utf-8")
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    PLOT.write_text(svg(rows, defences, chosen), encoding="utf-8")
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else f"# Privacy evaluation\n\n{BEGIN}\n{END}\n"
    block = f"{BEGIN}\n{report}\n{END}"
    text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    DOC.write_text(text, encoding="utf-8")
