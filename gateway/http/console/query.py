"""Filtering and paging the audit log for the console, newest first.

The log is read in chunks backwards from a cursor (``before``); each page scans at most ``max_scan``
entries, so a filter that matches little never turns one page view into a scan of the whole log: the page
then says where the scan stopped and the next link continues from there. Entries are caller-influenced
data: this module only parses and compares them; ``pages`` escapes them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from gateway.errors import BadRequest

PAGE_SIZE = 50
CHUNK = 500
MAX_SCAN = 20_000
DECISIONS = ("allow", "deny", "block", "error")


class LogReader(Protocol):
    def size(self) -> int: ...
    def entries(self, start: int, end: int) -> list[bytes]: ...


@dataclass(frozen=True)
class Filters:
    """What the auditor asked for; empty fields match everything."""

    event: str = ""
    decision: str = ""
    tenant: str = ""
    since: datetime | None = None
    until: datetime | None = None

    def as_audit(self) -> dict[str, str]:
        """The filters as recorded in the console's own audit entry (None values are dropped)."""
        return {k: v for k, v in self.as_query().items() if v}

    def as_query(self) -> dict[str, str]:
        """The filters as query parameters, for links to further pages."""
        return {
            "event": self.event, "decision": self.decision, "tenant": self.tenant,
            "since": _format_time(self.since), "until": _format_time(self.until),
        }


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
    return "" if value is None else value.strftime("%Y-%m-%dT%H:%M")


def parse_time(name: str, raw: str | None) -> datetime | None:
    """A datetime-local form value (or full RFC 3339) read as UTC; empty means no bound."""
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"'{name}' must be a date and time like 2025-01-31T13:45", param=name) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _short(name: str, raw: str | None, limit: int = 128) -> str:
    value = (raw or "").strip()
    if len(value) > limit:
        raise BadRequest(f"'{name}' is longer than {limit} characters", param=name)
    return value


def parse_filters(params: Mapping[str, str]) -> Filters:
    """Validate query parameters into ``Filters``; a bad value is a 400, never a silent match-all."""
    decision = _short("decision", params.get("decision"))
    if decision and decision not in DECISIONS:
        raise BadRequest(f"'decision' must be one of {', '.join(DECISIONS)}", param="decision")
    return Filters(
        event=_short("event", params.get("event")),
        decision=decision,
        tenant=_short("tenant", params.get("tenant")),
        since=parse_time("since", params.get("since")),
        until=parse_time("until", params.get("until")),
    )


def entry_time(entry: Mapping[str, Any]) -> datetime | None:
    raw = entry.get("time")
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def matches(entry: Mapping[str, Any], f: Filters) -> bool:
    """Whether one parsed entry passes every filter; time bounds are inclusive."""
    if f.event and entry.get("event") != f.event:
        return False
    if f.decision and entry.get("decision") != f.decision:
        return False
    if f.tenant and entry.get("tenant") != f.tenant:
        return False
    if f.since is not None or f.until is not None:
        t = entry_time(entry)
        if t is None or (f.since is not None and t < f.since) or (f.until is not None and t > f.until):
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
    log: LogReader, f: Filters, before: int | None = None, page_size: int = PAGE_SIZE, max_scan: int = MAX_SCAN
) -> Page:
    """Up to ``page_size`` matching entries with index < ``before``, newest first."""
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
            if matches(entry, f):
                rows.append(Row(index, entry))
            cursor = index
            if len(rows) >= page_size or scanned >= max_scan:
                break
    return Page(rows, cursor if cursor > 0 else None, scanned, size)
