"""Filtering and paging the audit log for the console, newest first.

The log is read in chunks backwards from a cursor (``before``); each page scans at most ``max_scan``
entries, so a filter that matches little never turns one page view into a scan of the whole log: the page
then says where the scan stopped and the next link continues from there. Entries are caller-influenced
data: this module only parses and compares them; ``pages`` escapes them.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from audit.events import EVENT_TYPES
from audit.report_scope import EVERYTHING, TenantScope, end_of, entry_time
from gateway.errors import BadRequest

PAGE_SIZE = 50
CHUNK = 500
MAX_SCAN = 20_000
DECISIONS = ("allow", "deny", "block", "error")
TEXT_FILTERS = ("event", "decision", "tenant", "subject", "request_id", "key_id", "exclude_event")
PARAMS = frozenset((*TEXT_FILTERS, "since", "until", "before"))
# Filters whose value is any text the reader typed (the others are checked against fixed lists or parsed as times).
DIGESTED_FILTERS = frozenset({"tenant", "subject", "request_id", "key_id"})
MAX_CURSOR_DIGITS = 15  # far beyond any log; keeps the cursor an exact integer in canonical JSON (< 2**53)
_DIGITS = re.compile(rf"[0-9]{{1,{MAX_CURSOR_DIGITS}}}")


class LogReader(Protocol):
    def size(self) -> int: ...
    def entries(self, start: int, end: int) -> list[bytes]: ...


@dataclass(frozen=True)
class Filters:
    """What the auditor asked for; empty fields match everything."""

    event: str = ""
    decision: str = ""
    tenant: str = ""
    subject: str = ""
    request_id: str = ""
    key_id: str = ""
    exclude_event: str = ""  # e.g. audit.read, so the auditors' own page views do not fill the view
    since: datetime | None = None
    until: datetime | None = None  # inclusive: an entry stamped within the named second (or minute) matches
    until_end: datetime | None = None  # the first instant after ``until``'s second (or minute)

    def as_audit(self, digest: Callable[[str], str]) -> dict[str, str]:
        """The filters as recorded in the console's own audit entry (empty ones are dropped). A filter on an id is
        the reader's free text: it is written as ``<name>_digest`` (``digest``: the auditor's keyed digest, as for
        other caller-chosen ids), so the entry can still be matched against the id it looked for."""
        out = {}
        for name, value in self.as_query().items():
            if value:
                out[f"{name}_digest" if name in DIGESTED_FILTERS else name] = (
                    digest(value) if name in DIGESTED_FILTERS else value
                )
        return out

    def as_query(self) -> dict[str, str]:
        """The filters as query parameters, for links to further pages."""
        return {
            "event": self.event, "decision": self.decision, "tenant": self.tenant, "subject": self.subject,
            "request_id": self.request_id, "key_id": self.key_id, "exclude_event": self.exclude_event,
            "since": _format_time(self.since), "until": self._until_text(),
        }

    def _until_text(self) -> str:
        """The upper bound as the last second it covers, so a link to the next page keeps the same range."""
        if self.until is None or self.until_end is None:
            return ""
        if self.until_end - self.until < timedelta(seconds=1):
            return self.until.isoformat().replace("+00:00", "")
        return _format_time(self.until_end - timedelta(seconds=1))


@dataclass(frozen=True)
class Row:
    index: int
    entry: dict[str, Any]


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    next_before: int | None  # cursor for the next (older) page; None when the log start was reached
    scanned: int
    tree_size: int


def _format_time(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%dT%H:%M:%S")


def parse_time(name: str, raw: str | None) -> datetime | None:
    """A datetime-local form value (or full RFC 3339) read as UTC; empty means no bound."""
    return None if not raw else _parse_time(name, raw)[0]


def _parse_time(name: str, raw: str) -> tuple[datetime, timedelta]:
    """The time and the unit it was given to (a minute, a second or finer), so an upper bound covers it all."""
    text = raw.strip().replace("Z", "+00:00")
    try:
        value = datetime.fromisoformat(text)
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: 0001-01-01T00:00+01:00 is before the calendar in UTC
        raise BadRequest(f"'{name}' must be a date and time like 2025-01-31T13:45:30", param=name) from None
    clock = text.partition("T")[2] or text.partition(" ")[2]
    hms = re.split(r"[+-]", clock, maxsplit=1)[0]
    unit = timedelta(minutes=1) if hms.count(":") < 2 else timedelta(seconds=1)
    if "." in hms or value.microsecond:
        unit = timedelta(microseconds=1)
    if not clock:
        unit = timedelta(days=1)
    return value, unit


def _short(name: str, raw: str | None, limit: int = 128) -> str:
    value = (raw or "").strip()
    if len(value) > limit:
        raise BadRequest(f"'{name}' is longer than {limit} characters", param=name)
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in value):  # a NUL was echoed into the filter form
        raise BadRequest(f"'{name}' holds a control or invisible formatting character (refused, never shown)",
                         param=name)
    return value


def parse_filters(params: Mapping[str, str]) -> Filters:
    """Validate query parameters into ``Filters``; a bad value or an unknown name is a 400, never a match-all."""
    unknown = sorted(set(params) - PARAMS)
    if unknown:
        raise BadRequest(f"unknown filter '{unknown[0][:40]}'; known: {', '.join(sorted(PARAMS))}",
                         param=unknown[0][:40])
    text = {name: _short(name, params.get(name)) for name in TEXT_FILTERS}
    if text["decision"] and text["decision"] not in DECISIONS:
        raise BadRequest(f"'decision' must be one of {', '.join(DECISIONS)}", param="decision")
    for name in ("event", "exclude_event"):
        if text[name] and text[name] not in EVENT_TYPES:
            raise BadRequest(f"'{name}' must be an audit event type (docs/audit.md)", param=name)
    until, until_end = None, None
    if params.get("until"):
        until, unit = _parse_time("until", params["until"])
        until_end = end_of(until, unit)  # None past 9999-12-31: no upper bound
    since = parse_time("since", params.get("since"))
    if since is not None and until is not None and since > until:
        raise BadRequest("'since' is after 'until'", param="since")
    return Filters(**text, since=since, until=until, until_end=until_end)


def parse_before(raw: str | None) -> int | None:
    """The paging cursor: ASCII digits only, at most 15 (no sign, no Unicode digits, no 27-digit integers)."""
    if raw is None or raw == "":
        return None
    if not _DIGITS.fullmatch(raw):
        raise BadRequest(f"'before' must be an entry index of 1 to {MAX_CURSOR_DIGITS} digits 0-9", param="before")
    return int(raw)


def matches(entry: Mapping[str, Any], f: Filters) -> bool:
    """Whether one parsed entry passes every filter; time bounds are inclusive."""
    for name in ("event", "decision", "tenant", "subject", "request_id", "key_id"):
        wanted = getattr(f, name)
        if wanted and entry.get(name) != wanted:
            return False
    if f.exclude_event and entry.get("event") == f.exclude_event:
        return False
    if f.since is not None or f.until_end is not None:
        t = entry_time(entry)
        if t is None or (f.since is not None and t < f.since) or (f.until_end is not None and t >= f.until_end):
            return False
    return True


def parse_entry(leaf: bytes) -> dict[str, Any]:
    """One leaf as a dict; a leaf that is not a JSON object is shown as such rather than hidden."""
    try:
        obj = json.loads(leaf)
    except ValueError:
        return {"unparseable": True}
    return obj if isinstance(obj, dict) else {"unparseable": True}


def find_page(
    log: LogReader, f: Filters, before: int | None = None, page_size: int = PAGE_SIZE, max_scan: int = MAX_SCAN,
    scope: TenantScope = EVERYTHING,
) -> Page:
    """Up to ``page_size`` matching entries with index < ``before`` that ``scope`` sees, newest first."""
    size = log.size()
    cursor = size if before is None else min(before, size)
    rows: list[Row] = []
    scanned = 0
    while cursor > 0 and len(rows) < page_size and scanned < max_scan:
        start = max(0, cursor - CHUNK)
        leaves = log.entries(start, cursor)
        for offset in range(len(leaves) - 1, -1, -1):
            index = start + offset
            scanned += 1
            entry = parse_entry(leaves[offset])
            if scope.sees(entry) and matches(entry, f):
                rows.append(Row(index, entry))
            cursor = index
            if len(rows) >= page_size or scanned >= max_scan:
                break
    return Page(rows, cursor if cursor > 0 else None, scanned, size)
