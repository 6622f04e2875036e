"""Time bounds at the calendar's edges (attack17): ``until`` on 9999-12-31 and ``since`` on 0001-01-01 with an
offset. Before, the console's entries page and its report answered 503 'internal error' and ``gateway-audit report``
printed a traceback (OverflowError: the end of the last second, or year 1 in UTC, is outside ``datetime``);
``ReportScope.parse`` is what the CLI calls."""

from __future__ import annotations

import pytest

from audit.report_scope import ReportScope
from gateway.auditing.browse import parse_filters
from gateway.errors import BadRequest
from tests.unit.http.console.conftest import App
from tests.unit.http.console.test_console_pages import auditor

LAST = ["9999-12-31", "9999-12-31T23:59", "9999-12-31T23:59:59", "9999-12-31T23:59:59.999999"]
BEFORE_TIME = ["0001-01-01T00:00:00+01:00", "0001-01-01T00:30+00:45"]
AFTER_TIME = ["9999-12-31T23:59:59-01:00"]


@pytest.mark.parametrize("until", LAST)
def test_when_until_is_the_calendars_last_unit_then_there_is_no_upper_bound(until: str) -> None:
    filters = parse_filters({"since": "0001-01-01T00:00:00", "until": until})
    assert filters.until is not None and filters.until_end is None
    scope = ReportScope.parse(None, "0001-01-01", until)
    assert scope.until is not None and scope.until_end is None
    assert scope.sees({"time": "2026-12-07T16:00:00Z", "tenant": "acme"})


@pytest.mark.parametrize("raw", BEFORE_TIME + AFTER_TIME)
def test_when_a_bound_in_utc_falls_off_the_calendar_then_it_is_a_bad_value_not_an_overflow(raw: str) -> None:
    for name in ("since", "until"):
        with pytest.raises(BadRequest) as refused:
            parse_filters({name: raw})
        assert refused.value.param == name
    with pytest.raises(ValueError, match="--since must be a date"):
        ReportScope.parse(None, raw, None)


@pytest.mark.parametrize("path", ["/console/entries", "/console/report.json"])
def test_when_the_console_is_asked_for_all_of_time_then_it_answers(app: App, path: str) -> None:
    auditor(app)
    r = app.client.get(path, params={"since": "0001-01-01T00:00:00", "until": "9999-12-31T23:59:59"})
    assert r.status_code == 200, r.text[:300]
    off = app.client.get(path, params={"since": BEFORE_TIME[0]})
    assert off.status_code == 400, off.text[:300]

