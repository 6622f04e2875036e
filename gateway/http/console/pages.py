"""The console's HTML: one stylesheet inline, no script, no external asset, every value escaped.

Entries are caller-influenced (tenants, subjects, routes and any field a future stage adds), so nothing from
the log or the request reaches the page except through :func:`esc`. The stylesheet's hash goes into the
Content-Security-Policy, which therefore needs neither ``unsafe-inline`` nor any script source.
"""

from __future__ import annotations

import base64
import hashlib
import json
from html import escape
from typing import Any
from urllib.parse import urlencode

from audit.events import EVENT_TYPES
from gateway.auditing.browse import DECISIONS, Filters, Page
from gateway.auditing.evidence import InclusionEvidence, SignedCheckpoint
from gateway.auth.apikeys import Principal

BASE = "/console"
CSS = (
    "body{font-family:system-ui,sans-serif;margin:0;color:#1d232a;background:#f7f8fa}"
    "header{background:#1d2b3a;color:#fff;padding:.6em 1.2em;display:flex;gap:1.2em;align-items:center}"
    "header a{color:#cfe3ff}header form{margin-left:auto}main{max-width:1200px;margin:1.2em auto;padding:0 1em}"
    "table{border-collapse:collapse;width:100%;background:#fff}td,th{border:1px solid #d5d9de;padding:3px 6px;"
    "text-align:left;font-size:90%;vertical-align:top}th{background:#eef1f4}pre{background:#fff;border:1px solid "
    "#d5d9de;padding:.6em;overflow-x:auto}.verified{color:#1b6e20;font-weight:bold}.failed{color:#b71c1c;"
    "font-weight:bold}.deny,.block,.error{color:#b71c1c}.allow{color:#1b6e20}form.filters{display:flex;"
    "flex-wrap:wrap;gap:.6em;align-items:end;margin-bottom:1em}label{display:flex;flex-direction:column;"
    "font-size:85%}.note{color:#555}.hash{font-family:monospace;word-break:break-all}"
)
CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
CSP = (
    f"default-src 'none'; style-src 'sha256-{CSS_HASH}'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)


def esc(value: Any) -> str:
    """Escape anything for HTML text and attribute values."""
    return escape("" if value is None else str(value), quote=True)


def layout(title: str, body: str, principal: Principal | None = None, csrf: str | None = None) -> str:
    """A whole page; with a principal, the navigation and a sign-out form carrying the session's CSRF token."""
    nav = ""
    if principal is not None:
        nav = (
            f"<a href='{BASE}/entries?exclude_event=audit.read'>Entries</a><a href='{BASE}/checkpoint'>Checkpoint</a>"
            f"<a href='{BASE}/collections'>Collections</a>"
            f"<a href='{BASE}/report.html' download>Report (HTML)</a>"
            f"<a href='{BASE}/report.json' download>Report (JSON)</a>"
            f"<a href='{BASE}/report.csv' download>Evidence cards (CSV)</a>"
            f"<span>{esc(principal.subject)} ({esc(principal.role)}, {esc(principal.tenant)})</span>"
            f"<form method='post' action='{BASE}/signout'><input type='hidden' name='csrf' value='{esc(csrf)}'>"
            "<button type='submit'>Sign out</button></form>"
        )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{esc(title)} - audit console</title><style>{CSS}</style></head><body>"
        f"<header><strong>Audit console</strong>{nav}</header><main><h1>{esc(title)}</h1>{body}</main></body></html>"
    )


def signin_page(message: str | None = None, provider: str | None = None) -> str:
    """The sign-in form; the key is posted once and never stored in the browser. With ``provider`` (the identity
    provider's name) a link first starts the sign-in there (a link, not a form: the form-action CSP would stop a
    form's redirect to the provider)."""
    notice = f"<p class='failed' role='alert'>{esc(message)}</p>" if message else ""
    sso = ""
    if provider is not None:
        sso = (f"<p><a id='oidc-signin' class='button' href='{BASE}/oidc/start'>Sign in with {esc(provider)}</a></p>"
               "<p class='note'>Or with an API key:</p>")
    body = (
        f"{notice}{sso}<form method='post' action='{BASE}/signin'>"
        "<label>API key (auditor or admin) <input type='password' name='api_key' autocomplete='off' required size='70'>"
        "</label><p><button type='submit'>Sign in</button></p></form>"
        "<p class='note'>The key is checked once; the browser then holds only a session cookie.</p>"
    )
    return layout("Sign in", body)


def error_page(title: str, message: str, principal: Principal | None = None, csrf: str | None = None) -> str:
    target = ("entries", "Back to the entries") if principal else ("", "Sign in")
    link = f"<p><a href='{BASE}/{target[0]}'>{target[1]}</a></p>"
    return layout(title, f"<p class='failed'>{esc(message)}</p>{link}", principal, csrf)


def _options(selected: str, values: list[str], blank: str) -> str:
    opts = [f"<option value=''>{esc(blank)}</option>"]
    for v in values:
        mark = " selected" if v == selected else ""
        opts.append(f"<option value='{esc(v)}'{mark}>{esc(v)}</option>")
    return "".join(opts)


def _filter_form(f: Filters) -> str:
    q = f.as_query()
    return (
        f"<form class='filters' method='get' action='{BASE}/entries'>"
        f"<label>Event<select name='event'>{_options(f.event, sorted(EVENT_TYPES), 'any event')}</select></label>"
        f"<label>Decision<select name='decision'>{_options(f.decision, list(DECISIONS), 'any')}</select></label>"
        f"<label>Tenant<input name='tenant' value='{esc(f.tenant)}'></label>"
        f"<label>Subject<input name='subject' value='{esc(f.subject)}'></label>"
        f"<label>Request id<input name='request_id' value='{esc(f.request_id)}'></label>"
        f"<label>Key id<input name='key_id' value='{esc(f.key_id)}'></label>"
        f"<label>Hide<select name='exclude_event'>{_options(f.exclude_event, ['audit.read'], 'nothing')}"
        "</select></label>"
        f"<label>From (UTC)<input type='datetime-local' step='1' name='since' value='{esc(q['since'])}'></label>"
        f"<label>To (UTC, inclusive)<input type='datetime-local' step='1' name='until' value='{esc(q['until'])}'>"
        "</label>"
        "<button type='submit'>Filter</button></form>"
    )


def _row(index: int, e: dict[str, Any]) -> str:
    decision = str(e.get("decision", ""))
    cls = decision if decision in DECISIONS else ""
    cells = [esc(e.get(k)) for k in ("time", "event")]
    rest = "".join(f"<td>{esc(e.get(k))}</td>" for k in ("tenant", "subject", "route", "status"))
    return (
        f"<tr><td><a href='{BASE}/entries/{index}'>{index}</a></td><td>{cells[0]}</td><td>{cells[1]}</td>"
        f"<td class='{cls}'>{esc(decision)}</td>{rest}</tr>"
    )


def entries_page(page: Page, f: Filters, principal: Principal, csrf: str, scope: str = "all tenants") -> str:
    """The filtered entries ``scope`` sees, newest first, with a link to the next older page."""
    head = "".join(f"<th>{h}</th>" for h in ("#", "time (UTC)", "event", "decision", "tenant", "subject",
                                             "route", "status"))
    rows = "".join(_row(r.index, r.entry) for r in page.rows) or "<tr><td colspan='8'>No matching entries.</td></tr>"
    more = ""
    if page.next_before is not None:
        query = urlencode({**{k: v for k, v in f.as_query().items() if v}, "before": page.next_before})
        more = f"<p><a id='older' href='{BASE}/entries?{esc(query)}'>Older entries (before #{page.next_before})</a></p>"
    body = (
        f"{_filter_form(f)}<p class='note'>The log holds {page.tree_size} entries; this page scanned "
        f"{page.scanned}. Showing {len(page.rows)} ({esc(scope)}), newest first.</p>"
        f"<table id='entries'><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>{more}"
    )
    return layout("Entries", body, principal, csrf)


def _status(ok: bool, what: str) -> str:
    if ok:
        return f"<p id='status' class='verified'>{esc(what)}: verified</p>"
    return f"<p id='status' class='failed'>{esc(what)}: NOT verified</p>"


def _witness_rows(witnesses: dict[str, Any]) -> str:
    if not witnesses["keys"]:
        return ("<p id='witnesses' class='note'>No witnesses configured (<code>audit_witnesses</code>): this "
                "history is vouched for by the gateway's signing key alone.</p>")
    rows = "".join(
        f"<tr><td>{esc(name)}</td>"
        + ("<td class='verified'>cosignature verified</td>" if name in witnesses["cosigned"] else
           "<td class='failed'>no valid cosignature</td>")
        + "</tr>"
        for name in witnesses["keys"]
    )
    cls = "verified" if witnesses["quorum_met"] else "failed"
    return (f"<p id='witnesses' class='{cls}'>Witnesses: {esc(witnesses['message'])}</p>"
            f"<table><tr><th>witness</th><th>cosignature</th></tr>{rows}</table>")


def entry_page(
    ev: InclusionEvidence, entry: dict[str, Any], signed: SignedCheckpoint, witnesses: dict[str, Any],
    principal: Principal, csrf: str,
) -> str:
    """One entry's receipt, as ``gateway-audit prove`` checks it: its audit path to the latest signed checkpoint's
    root, that checkpoint's signature (audit public key) and the configured witnesses' cosignatures."""
    cp = ev.checkpoint
    proof = "".join(f"<li class='hash'>{esc(p.hex())}</li>" for p in ev.proof) or "<li>(empty: single-entry tree)</li>"
    body = (
        _status(ev.verified, f"Inclusion of entry #{ev.index} in the signed tree of {cp.size} entries")
        + "<p id='signature' class='verified'>Checkpoint signature: verified with the gateway's audit public key</p>"
        + _witness_rows(witnesses)
        + f"<h2>Entry</h2><pre>{esc(json.dumps(entry, indent=2, sort_keys=True, ensure_ascii=False))}</pre>"
        + "<h2>Proof</h2><table>"
        + f"<tr><th>leaf hash</th><td class='hash'>{esc(ev.leaf_hash.hex())}</td></tr>"
        + f"<tr><th>tree size</th><td>{cp.size}</td></tr>"
        + f"<tr><th>signed root</th><td class='hash'>{esc(cp.root.hex())}</td></tr>"
        + f"<tr><th>origin</th><td>{esc(cp.origin)}</td></tr></table>"
        + f"<h3>Audit path ({len(ev.proof)} hashes)</h3><ol>{proof}</ol>"
        + f"<h2>Signed checkpoint</h2><pre id='note'>{esc(signed.note)}</pre>"
        + "<p class='note'>Recomputed here with RFC 9162 hashing from the leaf bytes. Check the receipt yourself, "
        + f"trusting only the keys you hold: <code>gateway-audit prove --url URL --api-key KEY --index {ev.index} "
        + "--public-key audit_ed25519.pub [--witness-key VKEY ...]</code>.</p>"
    )
    return layout(f"Entry #{ev.index}", body, principal, csrf)


def checkpoint_page(signed: SignedCheckpoint, principal: Principal, csrf: str) -> str:
    """The latest signed checkpoint note, its signature checked with the audit public key."""
    cp = signed.checkpoint
    names = ", ".join(sorted({s.key_name for s in cp.signatures}))
    body = (
        _status(True, "Checkpoint signature")
        + "<table>"
        + f"<tr><th>origin</th><td>{esc(cp.origin)}</td></tr><tr><th>tree size</th><td>{cp.size}</td></tr>"
        + f"<tr><th>root (hex)</th><td class='hash'>{esc(cp.root.hex())}</td></tr>"
        + f"<tr><th>signed by</th><td>{esc(names)}</td></tr></table>"
        + f"<h2>Signed note</h2><pre id='note'>{esc(signed.note)}</pre>"
        + "<p class='note'>Keep a copy: a later export must extend it "
        + "(<code>gateway-audit verify --previous</code>).</p>"
    )
    return layout("Latest signed checkpoint", body, principal, csrf)
