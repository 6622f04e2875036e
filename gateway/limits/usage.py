"""Usage: the model's tokens and the requests of each (tenant, key id, model, UTC day), kept durably by the
backend (``backends/sqlite/usage.py``, ``backends/postgres/usage.py``) for ``GET /v1/usage`` and ``gateway usage``.

Requests add to it in batches, off the event loop (a ``MicroBatcher`` around ``UsageRepository.add``), as the
privacy ledger's charges do; nothing here holds text, only ids, names and counts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from gateway.errors import BadRequest

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}\Z")
MAX_DAYS = 366  # one read spans at most a year (and a leap day)


@dataclass(frozen=True)
class Usage:
    """Tokens and requests of one key with one model on one day (``day``: ISO date, UTC)."""

    tenant: str
    key_id: str
    model: str
    day: str
    tokens: int
    requests: int


class UsageRepository(Protocol):
    def add(self, usage: Sequence[Usage]) -> None:
        """Add each row's counts to its (tenant, key id, model, day), in one transaction."""
        ...

    def read(self, tenant: str, since: str, until: str) -> list[Usage]:
        """The tenant's rows of the days ``since`` to ``until`` (both included), by day, key id and model."""
        ...


def usage_adder(repository: UsageRepository) -> Callable[[list[Usage]], list[None]]:
    """The usage batcher's function: one transaction adds the records of every request in the batch."""

    def add(usage: list[Usage]) -> list[None]:
        repository.add(usage)
        return [None] * len(usage)

    return add


def merged(usage: Sequence[Usage]) -> list[Usage]:
    """Rows of the same (tenant, key id, model, day) summed: one upsert each, in a stable order (no deadlock
    between two replicas' batches that touch the same rows)."""
    sums: dict[tuple[str, str, str, str], tuple[int, int]] = {}
    for u in usage:
        key = (u.tenant, u.key_id, u.model, u.day)
        tokens, requests = sums.get(key, (0, 0))
        sums[key] = (tokens + u.tokens, requests + u.requests)
    return [Usage(*key, tokens, requests) for key, (tokens, requests) in sorted(sums.items())]


def today(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).date().isoformat()


def parse_day(value: str, name: str) -> date:
    if not _DAY.match(value):
        raise BadRequest(f"'{name}' must be a date written YYYY-MM-DD", param=name)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"'{name}' is not a calendar date", param=name) from None


def day_range(since: str | None, until: str | None, now: datetime | None = None) -> tuple[str, str]:
    """The (since, until) days of a read, both included: ``until`` defaults to today (UTC), ``since`` to 30 days
    before it; a range backwards or longer than ``MAX_DAYS`` is refused."""
    last = parse_day(until, "until") if until else date.fromisoformat(today(now))
    first = parse_day(since, "since") if since else last - timedelta(days=30)
    if first > last:
        raise BadRequest("'since' is after 'until'", param="since")
    if (last - first).days >= MAX_DAYS:
        raise BadRequest(f"a usage read spans at most {MAX_DAYS} days", param="since")
    return first.isoformat(), last.isoformat()
