"""Self-contained HTML rendering of the NIST AI RMF report (inline CSS and SVG, no external assets)."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from audit.charts import stacked_bars

_CSS = """
body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222;line-height:1.4}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;
vertical-align:top}th{background:#f3f3f3}.ok{color:#2e7d32}.bad{color:#c62828}code{font-size:90%}
section{border-top:1px solid #ddd;margin-top:1.5em}.empty{color:#777}
"""


def _table(rows: dict[str, Any] | list[dict[str, Any]], headers: tuple[str, str] = ("", "")) -> str:
    if not rows:
        return '<p class="empty">none recorded</p>'
    if isinstance(rows, dict):
        body = "".join(f"<tr><td>{escape(str(k))}</td><td>{_value(v)}</td></tr>" for k, v in rows.items())
        head = f"<tr><th>{escape(headers[0])}</th><th>{escape(headers[1])}</th></tr>" if any(headers) else ""
        return f"<table>{head}{body}</table>"
    keys = list(dict.fromkeys(k for r in rows for k in r))
    head = "".join(f"<th>{escape(k)}</th>" for k in keys)
    body = "".join("<tr>" + "".join(f"<td>{_value(r.get(k))}</td>" for k in keys) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _value(v: Any) -> str:
    if isinstance(v, dict | list):
        if isinstance(v, dict) and all(not isinstance(x, dict | list) for x in v.values()):
            return _table(v)
        return f"<code>{escape(json.dumps(v, sort_keys=True))}</code>"
    return escape("-" if v is None else str(v))


def _verification(v: dict[str, Any]) -> str:
    if v["status"] != "verified":
        return f'<p class="bad"><strong>NOT VERIFIED:</strong> {escape(v["message"])}</p>'
    rows = {k: v[k] for k in ("origin", "size", "root_hex", "root_base64", "key_names", "previous_size")}
    return f'<p class="ok"><strong>VERIFIED:</strong> {escape(v["message"])}</p>{_table(rows)}'


def _charts(report: dict[str, Any]) -> str:
    buckets = report["timeline"]["buckets"]
    decisions = sorted({d for b in buckets for d in b["counts"]})
    timeline = stacked_bars(
        f"Events per {report['timeline']['bucket']} by decision",
        [b["start"] for b in buckets],
        {d: [b["counts"].get(d, 0) for b in buckets] for d in decisions},
    )
    pii = report["pii"]
    actions = sorted({a for per in pii.values() for a in per})
    pii_chart = stacked_bars(
        "PII entities found, by type and action",
        list(pii),
        {a: [pii[t].get(a, 0) for t in pii] for a in actions},
    )
    return f"<figure>{timeline}</figure><figure>{pii_chart}</figure>"


def render_html(report: dict[str, Any]) -> str:
    """The report as one self-contained HTML page."""
    s = report["summary"]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{escape(report['framework'])} evidence report</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(report['framework'])} evidence report</h1>",
        "<h2>Log verification</h2>",
        _verification(report["verification"]),
        f"<p>{s['entries']} entries from {_value(s['first_time'])} to {_value(s['last_time'])}.</p>",
        _charts(report),
        "<h2>Requests by decision</h2>",
        _table(report["by_decision"], ("decision", "entries")),
        "<h2>Events</h2>",
        _table(s["by_event"], ("event", "entries")),
    ]
    if report["unmapped_events"]:
        parts += ["<h3 class='bad'>Event types not in the mapping</h3>", _table(report["unmapped_events"])]
    parts.append("<h2>NIST AI RMF 1.0 subcategories</h2>")
    for sub in report["subcategories"]:
        parts += [
            f"<section id='{escape(sub['id'].replace(' ', '-'))}'>",
            f"<h3>{escape(sub['id'])}: {escape(sub['title'])}</h3>",
            f"<p>Evidence: {sub['entries']} entries of mapped event types "
            f"({escape(', '.join(sub['mapped_events']))}).</p>",
            _table(sub["events"], ("event", "entries")),
            _table(sub["decisions"], ("decision", "entries")) if sub["decisions"] else "",
        ]
        for name, section in sub["highlights"].items():
            parts += [f"<h4>{escape(name.replace('_', ' '))}</h4>", _highlight(name, section)]
        parts.append("</section>")
    parts.append("<h2>NIST AI 600-1 (Generative AI Profile) risks</h2>")
    for risk in report["genai_risks"]:
        parts += [f"<h3>{escape(risk['risk'])}</h3>", _table(risk["events"], ("event", "entries"))]
    parts.append("</body></html>")
    return "\n".join(parts)


def _highlight(name: str, section: Any) -> str:
    if name == "verification":
        return _verification(section)
    if name == "models":
        return _table([{**m, "value": json.dumps(m["value"], sort_keys=True)} for m in section])
    if isinstance(section, dict | list):
        return _table(section)
    return _value(section)
