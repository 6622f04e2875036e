"""The auditor console in process: sign-in, browsing, proofs, reports, refusals, and the audit of each."""

from __future__ import annotations

import json
import re
from typing import Any

from gateway.http.console.sessions import SessionStore
from tests.unit.http.console.conftest import App

CSRF = re.compile(r"name='csrf' value='([^']+)'")


def signin(app: App, key: str, **headers: str) -> Any:
    return app.client.post("/console/signin", data={"api_key": key}, headers=headers, follow_redirects=False)


def auditor(app: App) -> str:
    key = app.key("acme", "olga", "auditor")
    assert signin(app, key).status_code == 303
    return key


def entry(app: App, response: Any) -> dict[str, Any]:
    index = int(response.headers["X-Gateway-Audit-Index"])
    return dict(json.loads(app.services.audit_log.entries(index, index + 1)[0]))


def test_when_the_console_is_opened_then_a_sign_in_form_without_script_or_external_assets(app: App) -> None:
    r = app.client.get("/console")
    assert r.status_code == 200 and "name='api_key'" in r.text
    assert "<script" not in r.text and "http" not in r.text.split("<body>")[1]
    assert "script-src" not in r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]


def test_when_an_auditor_signs_in_then_an_opaque_strict_httponly_cookie_and_an_audited_sign_in(app: App) -> None:
    key = app.key("acme", "olga", "auditor")
    r = signin(app, key)
    assert r.status_code == 303 and r.headers["location"] == "/console/entries"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower() and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain http in tests; https adds Secure
    value = cookie.split(";")[0].split("=", 1)[1]
    assert key not in cookie and key.split("_")[1] not in value
    e = entry(app, r)
    assert (e["event"], e["decision"], e["what"], e["via"], e["subject"]) == (
        "audit.read", "allow", "console.signin", "console", "olga")


def test_when_a_writer_signs_in_then_403_no_session_and_the_denial_is_audited(app: App) -> None:
    r = signin(app, app.key("acme", "bob", "writer"))
    assert r.status_code == 403 and "cannot open the audit console" in r.text
    assert "set-cookie" not in r.headers
    assert entry(app, r)["event"] == "authz.denied"
    assert app.client.get("/console/entries").status_code == 401


def test_when_a_wrong_key_is_posted_then_401_audited_without_the_secret(app: App) -> None:
    bogus = "gk_0123456789abcdef_" + "A" * 43
    r = signin(app, bogus)
    assert r.status_code == 401 and "name='api_key'" in r.text
    e = entry(app, r)
    # An unknown key's id is the caller's text, never written (session 18); a key that exists is named.
    assert e["event"] == "auth.failure" and "key_id" not in e
    assert "A" * 43 not in json.dumps(e)
    real = app.key("acme", "olga", "auditor")
    wrong = real[:-1] + ("A" if real[-1] != "A" else "B")
    e = entry(app, signin(app, wrong))
    assert e["key_id"] == real.split("_")[1] and real[20:] not in json.dumps(e)


def test_when_a_real_keys_secret_is_guessed_at_sign_in_then_its_tenant_sees_why(app: App) -> None:
    # attack16 (F11): the console dropped the refusal's reason and the key's tenant, which the API writes, so the
    # tenant's auditors never saw their auditor key guessed at where a person would guess it
    key_id = auditor(app).split("_")[1]
    r = signin(app, f"gk_{key_id}_" + "Z" * 43)
    assert r.status_code == 401
    e = entry(app, r)
    assert (e["event"], e["key_id"], e["reason"], e["tenant"]) == ("auth.failure", key_id, "wrong secret", "acme")
    assert "Z" * 43 not in json.dumps(e)


def test_when_no_session_then_pages_are_refused_and_the_attempt_audited(app: App) -> None:
    for path in ("/console/entries", "/console/entries/0", "/console/checkpoint", "/console/report.json"):
        r = app.client.get(path)
        assert r.status_code == 401, path
        assert entry(app, r)["event"] == "auth.failure"


def test_when_the_sign_in_form_is_posted_cross_site_then_it_is_refused(app: App) -> None:
    key = app.key("acme", "olga", "auditor")
    assert signin(app, key, origin="https://evil.example").status_code == 403
    assert signin(app, key, **{"sec-fetch-site": "cross-site"}).status_code == 403
    assert signin(app, key, origin="null").status_code == 403  # sandboxed frames post with a null origin
    assert app.client.get("/console/entries").status_code == 401
    assert signin(app, key, origin="http://testserver.local", **{"sec-fetch-site": "same-origin"}).status_code == 303


def test_when_console_pages_are_served_then_the_referrer_policy_keeps_the_origin_header(app: App) -> None:
    # "no-referrer" would make browsers send "Origin: null" on our own form posts.
    assert app.client.get("/console").headers["Referrer-Policy"] == "same-origin"


def test_when_entries_are_filtered_then_only_matches_show_newest_first(app: App) -> None:
    writer = app.key("acme", "bob", "writer")
    app.client.post("/v1/embeddings", json={"model": "all-MiniLM-L6-v2", "input": "x"}, headers=app.auth(writer))
    app.client.get("/v1/audit/entries", headers=app.auth(writer))  # denied: writers cannot list
    auditor(app)
    r = app.client.get("/console/entries", params={"event": "authz.denied", "decision": "deny", "tenant": "acme"})
    assert r.status_code == 200
    rows = re.findall(r"<tr><td><a href='/console/entries/(\d+)'>", r.text)
    assert len(rows) == 1 and "embeddings.create</td>" not in r.text
    allowed = app.client.get("/console/entries", params={"decision": "allow"}).text
    indexes = [int(i) for i in re.findall(r"<tr><td><a href='/console/entries/(\d+)'>", allowed)]
    assert indexes == sorted(indexes, reverse=True) and len(indexes) >= 2
    assert app.client.get("/console/entries", params={"since": "2999-01-01T00:00"}).text.count("No matching") == 1
    e = entry(app, r)
    assert e["what"] == "console.entries" and e["filters"] == {"event": "authz.denied", "decision": "deny",
                                                                "tenant_digest": app.services.auditor.digest("acme",
                                                                                                             "acme")}


def test_when_a_page_is_full_then_the_older_link_continues_from_the_cursor(app: App) -> None:
    for i in range(60):
        app.services.auditor.record_sync("policy.reload", "allow", n=i)
    auditor(app)
    first = app.client.get("/console/entries", params={"event": "policy.reload"}).text
    assert first.count("<tr><td><a") == 50
    older = re.search(r"id='older' href='([^']+)'", first)
    assert older is not None
    second = app.client.get(older.group(1).replace("&amp;", "&")).text
    assert second.count("<tr><td><a") == 10


def test_when_a_bad_filter_is_given_then_400_page_and_audited_as_invalid(app: App) -> None:
    auditor(app)
    r = app.client.get("/console/entries", params={"decision": "maybe"})
    assert r.status_code == 400 and "decision" in r.text
    assert entry(app, r)["event"] == "request.invalid"
    assert app.client.get("/console/entries", params={"since": "yesterday"}).status_code == 400


def test_when_an_entry_is_opened_then_its_inclusion_proof_is_verified_server_side(app: App) -> None:
    auditor(app)
    r = app.client.get("/console/entries/0")
    assert r.status_code == 200
    assert "id='status' class='verified'" in r.text and "verified" in r.text and "NOT verified" not in r.text
    first_event = json.loads(app.services.audit_log.entries(0, 1)[0])["event"]
    assert f"&quot;event&quot;: &quot;{first_event}&quot;" in r.text
    assert entry(app, r)["what"] == "console.inclusion_proof" and entry(app, r)["verified"] is True
    assert app.client.get("/console/entries/999999").status_code == 404


def test_when_entries_hold_markup_then_it_is_escaped_everywhere(app: App) -> None:
    evil = "<script>alert(1)</script>"
    index = app.services.auditor.record_sync("audit.read", "allow", tenant="acme", subject=evil, route=evil,
                                             note=evil)
    auditor(app)
    for text in (app.client.get("/console/entries").text, app.client.get(f"/console/entries/{index}").text):
        assert evil not in text and "&lt;script&gt;" in text


def test_when_the_checkpoint_page_is_opened_then_the_signed_note_is_shown_verified(app: App) -> None:
    auditor(app)
    r = app.client.get("/console/checkpoint")
    assert r.status_code == 200 and "class='verified'" in r.text and "\u2014 gateway-audit " in r.text


def test_when_reports_are_downloaded_then_html_and_json_from_the_verified_log(app: App) -> None:
    auditor(app)
    r = app.client.get("/console/report.json")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    report = r.json()
    assert report["verification"]["status"] == "verified" and report["summary"]["entries"] >= 2
    h = app.client.get("/console/report.html")
    assert h.status_code == 200 and "NIST AI RMF" in h.text and "sandbox" in h.headers["Content-Security-Policy"]
    assert entry(app, h)["what"] == "console.report.html"


def test_when_signing_out_without_the_csrf_token_then_refused_and_with_it_the_session_ends(app: App) -> None:
    auditor(app)
    page = app.client.get("/console/entries").text
    token = CSRF.search(page)
    assert token is not None
    assert app.client.post("/console/signout", data={"csrf": "forged"}, follow_redirects=False).status_code == 403
    assert app.client.get("/console/entries").status_code == 200
    r = app.client.post("/console/signout", data={"csrf": token.group(1)}, follow_redirects=False)
    assert r.status_code == 303 and "Max-Age=0" in r.headers["set-cookie"]
    assert entry(app, r)["what"] == "console.signout"
    assert app.client.get("/console/entries").status_code == 401


def test_when_the_key_is_revoked_then_its_console_session_ends(app: App) -> None:
    key = auditor(app)
    app.services.apikeys.revoke(key.split("_")[1], "2020-01-01T00:00:00+00:00")
    assert app.client.get("/console/entries").status_code == 401


def test_when_the_session_expires_then_sign_in_is_asked_again(app: App) -> None:
    now = [1000.0]
    app.client.app.state["console_sessions"] = SessionStore(ttl_s=60, clock=lambda: now[0])
    auditor(app)
    assert app.client.get("/console/entries").status_code == 200
    now[0] += 61
    assert app.client.get("/console/entries").status_code == 401


def test_when_before_is_27_digits_or_a_superscript_then_400_audited_as_invalid_not_503(app: App) -> None:
    auditor(app)
    for raw in ("1" * 27, "\u00b2"):
        r = app.client.get("/console/entries", params={"before": raw})
        assert r.status_code == 400 and "before" in r.text, raw
        assert entry(app, r)["event"] == "request.invalid"


def test_when_an_unknown_filter_is_given_then_400_not_silently_ignored(app: App) -> None:
    auditor(app)
    r = app.client.get("/console/entries", params={"subjct": "ann"})
    assert r.status_code == 400 and "subjct" in r.text
    assert entry(app, r)["event"] == "request.invalid"


def test_when_report_options_are_given_then_scope_framework_and_csv_follow_them(app: App) -> None:
    auditor(app)
    r = app.client.get("/console/report.json", params={"framework": "iso-42001", "since": "2000-01-01"})
    assert r.status_code == 200
    report = r.json()
    assert report["framework_key"] == "iso-42001" and report["scope"]["tenant"] == "acme"
    assert report["scope"]["since"] == "2000-01-01T00:00:00Z"
    csv_page = app.client.get("/console/report.csv")
    assert csv_page.status_code == 200 and csv_page.text.startswith("request_id,index,leaf_hash")
    assert app.client.get("/console/report.json", params={"tenant": "globex"}).status_code == 403
    for bad in ({"framework": "sox"}, {"since": "soon"}, {"colour": "red"}):
        refused = app.client.get("/console/report.json", params=bad)
        assert refused.status_code == 400, bad
        assert entry(app, refused)["event"] == "request.invalid"
