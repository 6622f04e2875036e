"""Two console session cookies, or two keys in the sign-in form (attack18): refused as two API credentials are.

Before: ``Cookie: gw_console=<other>; gw_console=<mine>`` opened the last one's session. A sibling host can set a
second cookie of that name for the parent domain (cookie tossing), and a proxy reading the first would attribute
the request to another session than the gateway served."""

from __future__ import annotations

import pytest

from gateway.http.console.flow import COOKIE
from tests.unit.http.conftest import entry
from tests.unit.http.console.conftest import App
from tests.unit.http.console.test_console_pages import auditor


@pytest.mark.parametrize("shape", ["{mine}; {COOKIE}=other", "{COOKIE}=other; {mine}", "{mine}; {mine}"])
def test_when_the_console_gets_two_session_cookies_then_it_refuses_and_audits_it(app: App, shape: str) -> None:
    auditor(app)
    mine = f"{COOKIE}={app.client.cookies[COOKIE]}"
    app.client.cookies.clear()
    assert app.client.get("/console/entries", headers={"Cookie": mine}).status_code == 200
    refused = app.client.get("/console/entries", headers={"Cookie": shape.format(mine=mine, COOKIE=COOKIE)})
    assert refused.status_code == 401 and "not several" in refused.text
    assert entry(app, refused)["decision"] == "deny"
    assert app.client.get("/console/entries", headers={"Cookie": mine}).status_code == 200  # the session lives


def test_when_the_sign_in_form_carries_two_keys_then_no_session_is_opened_and_the_refusal_is_audited(
        app: App) -> None:
    # Before: api_key=<one>&api_key=<another> signed in with the last one.
    first, second = app.key("acme", "olga", "auditor"), app.key("acme", "otto", "auditor")
    refused = app.client.post("/console/signin", content=f"api_key={first}&api_key={second}".encode(),
                              headers={"Content-Type": "application/x-www-form-urlencoded"}, follow_redirects=False)
    assert refused.status_code == 400 and COOKIE not in refused.cookies
    assert entry(app, refused)["decision"] != "allow"
