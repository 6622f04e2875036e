"""Self-contained HTML rendering of the evidence report (inline CSS and SVG, no script, no external asset).

Every value from the log is escaped. A report whose log did not verify renders its summary and the failure only.
"""

from __future__ import annotations

from html import escape
from typing import Any

from audit.charts import horizontal_bars, stacked_bars

MAX_CARDS = 500  # the HTML stays printable; the JSON and CSV formats hold every card

_CSS = """
body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222;line-height:1.4}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;
vertical-align:top}th{background:#f3f3f3}.ok{color:#2e7d32}.bad{color:#c62828}code,.hash{font-size:90%;
font-family:monospace;word-break:break-all}section{border-top:1px solid #ddd;margin-top:1.5em}.empty{color:#777}
figure{margin:1em 0;overflow-x:auto}.none{color:#c62828}.card{display:inline-block;vertical-align:top;margin:.3em}
"""


def _table(rows: dict[str, Any] | list[dict[str, Any]], headers: tuple[str, str] = ("", "")) -> str:
    if not rows:
        return '<p class="empty">none recorded</p>'
    if isinstance(rows, dict):
        body = "".join(f"<tr><th>{escape(str(k))}</th><td>{_value(v)}</td></tr>" for k, v in rows.items())
        head = f"<tr><th>{escape(headers[0])}</th><th>{escape(headers[1])}</th></tr>" if any(headers) else ""
        return f"<table>{head}{body}</table>"
    keys = list(dict.fromkeys(k for r in rows for k in r))
    head = "".join(f"<th>{escape(k.replace('_', ' '))}</th>" for k in keys)
    body = "".join("<tr>" + "".join(f"<td>{_value(r.get(k))}</td>" for k in keys) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _value(v: Any) -> str:
    """A cell: nested objects as nested tables, lists of plain values joined, never raw JSON."""
    if isinstance(v, dict):
        return _table(v) if v else "-"
    if isinstance(v, list):
        if all(isinstance(x, dict) for x in v) and v:
            return _table(v)
        return escape(", ".join(str(x) for x in v)) if v else "-"
    return escape("-" if v is None else str(v))


def _verification(v: dict[str, Any]) -> str:
    if v["status"] != "verified":
        return f'<p class="bad" id="verification"><strong>NOT VERIFIED:</strong> {escape(v["message"])}</p>'
    rows = {k: v[k] for k in ("origin", "size", "root_hex", "root_base64", "key_names", "previous_size")}
    return f'<p class="ok" id="verification"><strong>VERIFIED:</strong> {escape(v["message"])}</p>{_table(rows)}'


def _summary(report: dict[str, Any]) -> list[str]:
    s = report["summary"]
    facts = {"scope": s["scope"], "generated at": s["generated_at"],
             "tool": f"{s['tool']['name']} {s['tool']['version']}", "inputs": s["inputs"],
             "verification": s["verification"], "witnesses": s["witnesses"]["message"]}
    if "entries" in s:  # a log that did not verify has no counts, nor times
        facts |= {"entries in scope": s["entries"], "first entry": s["first_time"], "last entry": s["last_time"]}
    lines = "".join(
        f"<tr><td>{escape(c['id'])}</td><td>{escape(c['title'])}</td>"
        f"<td class='{'none' if c['evidence'] in ('none', 'not assessed') else 'ok'}'>"
        f"{escape(str(c['evidence']))}{' entries' if isinstance(c['evidence'], int) else ''}</td></tr>"
        for c in s["controls"]
    )
    missing = ", ".join(s["not_covered"]) or "none"
    return [
        "<h2>Summary</h2>", _table(facts),
        f"<table id='controls'><tr><th>control</th><th>outcome</th><th>evidence</th></tr>{lines}</table>",
        f"<p id='not-covered'><strong>Not covered by this gateway's log:</strong> {escape(missing)}</p>",
    ]


def _charts(report: dict[str, Any]) -> str:
    buckets = report["timeline"]["buckets"]
    decisions = sorted({d for b in buckets for d in b["counts"]})
    timeline = stacked_bars(
        f"Entries per {report['timeline']['bucket']} by decision",
        [b["start"] for b in buckets],
        {d: [b["counts"].get(d, 0) for b in buckets] for d in decisions},
    )
    pii = report["pii"]
    actions = sorted({a for per in pii.values() for a in per})
    pii_chart = horizontal_bars(
        "PII entities found, by type and action", list(pii), {a: [pii[t].get(a, 0) for t in pii] for a in actions}
    )
    return f"<figure>{timeline}</figure><figure>{pii_chart}</figure>"


def _cards(cards: list[dict[str, Any]]) -> list[str]:
    shown = cards[:MAX_CARDS]
    more = len(cards) - len(shown)
    note = f"<p class='empty'>{more} more cards in the JSON and CSV formats.</p>" if more else ""
    return [f"<h2>Evidence cards ({len(cards)} requests)</h2>", _table(shown), note]


def render_html(report: dict[str, Any]) -> str:
    """The report as one self-contained HTML page."""
    title = f"{report['framework']} evidence report"
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        "<h2>Log verification</h2>",
        _verification(report["verification"]),
        *_summary(report),
    ]
    if report["verification"]["status"] != "verified":
        parts.append("<p class='bad'>No evidence is shown: entries of a log that does not verify prove nothing.</p>")
        return "\n".join([*parts, "</body></html>"])
    parts += [
        _charts(report),
        "<h2>Requests by decision</h2>", _table(report["by_decision"], ("decision", "requests")),
        "<h2>Refusals by error code</h2>", _table(report["denial_codes"], ("code", "entries")),
        "<h2>Privacy spend (epsilon after the latest request, per tenant and scope)</h2>",
        _table([{"tenant/scope": k, **v} for k, v in report["privacy"]["by_tenant_scope"].items()]),
        "<h2>Ingests</h2>", _table(report["ingest"]),
        "<h2>Policy-change timeline</h2>", _table(report["policy_timeline"]),
        "<h2>Events</h2>", _table(report["summary"]["by_event"], ("event", "entries")),
    ]
    if report["unmapped_events"]:
        parts += ["<h3 class='bad'>Event types not in the mapping</h3>", _table(report["unmapped_events"])]
    parts.append(f"<h2>{escape(report['framework'])}: evidence per control</h2>")
    for c in report["controls"]:
        parts += [
            f"<section id='{escape(c['id'].replace(' ', '-'))}'>",
            f"<h3>{escape(c['id'])}: {escape(c['title'])}</h3>",
            f"<p>Evidence: {c['entries']} entries of mapped event types.</p>",
            _table(c["events"], ("event", "entries")),
            _table(c["decisions"], ("decision", "entries")) if c["decisions"] else "",
        ]
        for name, section in c["highlights"].items():
            body = _verification(section) if name == "verification" else _value(section)
            parts += [f"<h4>{escape(name.replace('_', ' '))}</h4>", body]
        parts.append("</section>")
    if "genai_risks" in report:
        parts.append("<h2>NIST AI 600-1 (Generative AI Profile) risks</h2>")
        for risk in report["genai_risks"]:
            parts += [f"<h3>{escape(risk['risk'])}</h3>", _table(risk["events"], ("event", "entries"))]
    parts += _cards(report["evidence_cards"])
    parts.append("</body></html>")
    return "\n".join(parts)
