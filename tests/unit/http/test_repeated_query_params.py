"""A query parameter given twice (attack17, fixes17a #2).

Before: ``/console/entries?tenant=acme&tenant=initech``, ``/v1/audit/entries?decision=deny&decision=allow`` and every
other route read the first value silently, while a proxy, a WAF or a log in front of the gateway may read the last
one. Now it is a 400 naming the parameter, audited as ``request.invalid`` like every other invalid request."""

from __future__ import annotations

from tests.unit.http.conftest import App, entry
from tests.unit.http.console.test_console_pages import auditor


def test_when_an_api_query_parameter_is_repeated_then_400_names_it_and_it_is_audited(app: App) -> None:
    reader = app.auth(app.key("acme", "olga", "auditor"))
    refused = app.client.get("/v1/audit/entries?decision=deny&decision=allow", headers=reader)
    assert refused.status_code == 400, refused.text
    body = refused.json()
    assert "'decision' is given 2 times" in body["detail"] and body["code"] == "bad_request"
    audited = entry(app, refused)
    assert (audited["event"], audited["decision"], audited["status"]) == ("request.invalid", "deny", 400)
    assert app.client.get("/v1/audit/entries?decision=deny", headers=reader).status_code == 200


def test_when_an_openai_route_gets_a_repeated_parameter_then_400_in_openai_shape(app: App) -> None:
    writer = app.auth(app.key("acme", "alice", "writer"))
    refused = app.client.get("/v1/batches?limit=1&limit=100", headers=writer)
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "limit"


def test_when_a_console_filter_is_repeated_then_a_400_page_audited_as_invalid(app: App) -> None:
    auditor(app)
    refused = app.client.get("/console/entries?tenant=acme&tenant=initech")
    assert refused.status_code == 400 and "&#x27;tenant&#x27; is given 2 times" in refused.text
    assert entry(app, refused)["event"] == "request.invalid"


def test_when_a_repeated_name_holds_control_characters_then_it_is_not_echoed(app: App) -> None:
    reader = app.auth(app.key("acme", "olga", "auditor"))
    refused = app.client.get("/v1/audit/entries?a%00b=1&a%00b=2", headers=reader)
    assert refused.status_code == 400
    assert "\x00" not in refused.text and "\\u0000" not in refused.text
    assert "a query parameter is given 2 times" in refused.json()["detail"]
