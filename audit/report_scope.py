"""Which audit entries a reader sees: one tenant's, or (platform auditors) every tenant's.

A tenant's auditor sees the entries of its own tenant and the platform-wide events that govern every
tenant's processing (gateway start and stop, policy reloads, model registration and retirement, KEK
rotation): those carry the tenant ``*`` (or none) and name no tenant's data. Every other entry
(another tenant's, an unauthenticated request's) is withheld: its leaf hash is all that reader gets, which
is enough to recompute the Merkle root and check a proof. The rule lives here, in the standalone ``audit``
package, so the gateway's routes and an auditor's offline report scope the log the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

PLATFORM_TENANT = "*"
PLATFORM_WIDE_EVENTS = frozenset({
    "gateway.start", "gateway.stop", "privacy.protection_off", "policy.reload", "model.register", "model.retire",
    "key.rotate", "key.rewrap",
})


def parse_leaf(leaf: bytes) -> dict[str, Any]:
    """One leaf as a dict; anything that is not a JSON object becomes an empty dict (visible to no tenant)."""
    try:
        obj = json.loads(leaf)
    except ValueError:
        return {}
    return obj if isinstance(obj, dict) else {}


def platform_wide(entry: Mapping[str, Any]) -> bool:
    """An event about the whole gateway rather than one tenant's data."""
    return entry.get("event") in PLATFORM_WIDE_EVENTS and entry.get("tenant", PLATFORM_TENANT) == PLATFORM_TENANT


@dataclass(frozen=True)
class TenantScope:
    """``tenant`` None: every entry (a platform auditor, or an auditor holding the whole export)."""

    tenant: str | None = None

    @property
    def label(self) -> str:
        return "all tenants" if self.tenant is None else f"tenant {self.tenant}"

    def sees(self, entry: Mapping[str, Any]) -> bool:
        if self.tenant is None:
            return True
        return entry.get("tenant") == self.tenant or platform_wide(entry)

    def sees_leaf(self, leaf: bytes) -> bool:
        return self.tenant is None or self.sees(parse_leaf(leaf))


EVERYTHING = TenantScope()


def parse_bound(name: str, raw: str) -> tuple[datetime, timedelta]:
    """A date (``2025-01-31``) or date and time (``2025-01-31T13:45[:30][Z]``) in UTC, and the unit it names.

    An upper bound covers its whole unit: ``--until 2025-01-31`` includes that whole day, ``13:45:30`` that second.
    """
    text = raw.strip().replace("Z", "+00:00")
    try:
        value = datetime.fromisoformat(text)
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: 0001-01-01T00:00+01:00 is before the calendar in UTC
        raise ValueError(f"--{name} must be a date or date and time like 2025-01-31T13:45:30Z, not {raw!r}") from None
    clock = text.partition("T")[2] or text.partition(" ")[2]
    hms = re.split(r"[+-]", clock, maxsplit=1)[0]
    if not clock:
        unit = timedelta(days=1)
    elif "." in hms:
        unit = timedelta(microseconds=1)
    else:
        unit = timedelta(seconds=1) if hms.count(":") >= 2 else timedelta(minutes=1)
    return value, unit


def end_of(until: datetime, unit: timedelta) -> datetime | None:
    """The first instant after ``until``'s unit; None (no upper bound) when that is past the calendar's last day
    (``until`` 9999-12-31 covers everything: the sum would raise OverflowError)."""
    try:
        return until + unit
    except OverflowError:
        return None


def entry_time(entry: Mapping[str, Any]) -> datetime | None:
    raw = entry.get("time")
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


@dataclass(frozen=True)
class ReportScope:
    """What a report covers: a tenant (None: all) and an inclusive time range (None: unbounded)."""

    tenant: str | None = None
    since: datetime | None = None
    until: datetime | None = None  # as given, for the summary
    until_end: datetime | None = None  # the first instant after ``until``'s unit

    @classmethod
    def parse(cls, tenant: str | None = None, since: str | None = None, until: str | None = None) -> ReportScope:
        start = parse_bound("since", since)[0] if since else None
        end, unit = parse_bound("until", until) if until else (None, timedelta(0))
        if start is not None and end is not None and start > end:
            raise ValueError("--since is after --until")
        return cls(tenant, start, end, None if end is None else end_of(end, unit))

    def sees(self, entry: Mapping[str, Any]) -> bool:
        if not TenantScope(self.tenant).sees(entry):
            return False
        if self.since is None and self.until_end is None:
            return True
        t = entry_time(entry)
        if t is None:
            return False
        return (self.since is None or t >= self.since) and (self.until_end is None or t < self.until_end)

    def as_dict(self) -> dict[str, str | None]:
        def fmt(t: datetime | None) -> str | None:
            return None if t is None else t.isoformat().replace("+00:00", "Z")

        return {"tenant": self.tenant or "*", "since": fmt(self.since), "until": fmt(self.until)}
