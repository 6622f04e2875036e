"""Control characters in a console filter (attack17, fixes17a #3).

Before: ``/console/entries?tenant=a%00b`` rendered the entries page with the NUL echoed into the filter form's
``value`` attribute. Now a filter value holding a control character (C0, C1, DEL) or an invisible formatting one
(bidi overrides, zero-width) is a 400 page naming the filter, audited as ``request.invalid``, and the value is never
shown."""

from __future__ import annotations

import pytest

from gateway.auditing.browse import TEXT_FILTERS, parse_filters
from gateway.errors import BadRequest
from tests.unit.http.conftest import entry
from tests.unit.http.console.conftest import App
from tests.unit.http.console.test_console_pages import auditor


@pytest.mark.parametrize("value", ["a\x00b", "acme\x1b[31m", "a\x7fb", "a\x85b", "ac\u202eme", "ac\u200bme"])
def test_when_a_console_filter_holds_a_control_character_then_a_400_page_that_does_not_echo_it(
        app: App, value: str) -> None:
    auditor(app)
    refused = app.client.get("/console/entries", params={"tenant": value})
    assert refused.status_code == 400
    assert "tenant" in refused.text and "control" in refused.text
    assert value not in refused.text and "\x00" not in refused.text
    assert entry(app, refused)["event"] == "request.invalid"


@pytest.mark.parametrize("name", TEXT_FILTERS)
def test_when_any_text_filter_holds_a_nul_then_the_parser_refuses_it_naming_the_filter(name: str) -> None:
    with pytest.raises(BadRequest) as refused:
        parse_filters({name: "x\x00"})
    assert refused.value.param == name and "\x00" not in refused.value.message
