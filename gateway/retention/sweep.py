"""The retention sweep use case: purge what each collection's policy no longer allows to be kept, and audit it.

For every collection in the store (all tenants) whose effective policy sets ``retention_days``, the cutoff is
``now - retention_days``: chunks stored before it leave the records, ciphertexts and index (``Store.purge_before``),
and so do the drift windows closed before it and a baseline fitted on purged vectors. Each tenant with such a
collection gets one ``retention.purge`` audit entry per sweep, with counts per collection (named by its digest,
as ``collection_digest`` elsewhere) and never a value:
evidence that retention was enforced, also when there was nothing to purge. The running gateway schedules the
sweep (``retention_sweep_interval_s``), which also purges the batch API's files and jobs past their expiry
(``file.purge``, counts only); ``gateway retention sweep [--now ISO-8601]`` runs it by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from gateway.auditing.auditor import Auditor
from gateway.errors import BadRequest, NotFound
from gateway.policy.loader import GatewayPolicy
from gateway.store.base import Collection, Store

log = logging.getLogger(__name__)


class DriftPurger(Protocol):
    def purge_before(self, c: Collection, cutoff: datetime, *, chunks_purged: bool) -> int: ...


@dataclass(frozen=True)
class CollectionPurge:
    """What one sweep did to one collection (counts only)."""

    collection: str
    retention_days: int
    cutoff: str
    chunks: int = 0
    drift_rows: int = 0
    failed: bool = False

    def as_audit(self) -> dict[str, Any]:
        out: dict[str, Any] = {"retention_days": self.retention_days, "cutoff": self.cutoff,
                               "chunks": self.chunks, "drift_rows": self.drift_rows}
        if self.failed:
            out["error"] = True
        return out


@dataclass(frozen=True)
class SweepReport:
    now: str
    tenants: dict[str, list[CollectionPurge]] = field(default_factory=dict)
    expired: dict[str, int] = field(default_factory=dict)  # the batch API's files and the jobs past their expiry

    @property
    def chunks(self) -> int:
        return sum(p.chunks for purges in self.tenants.values() for p in purges)

    @property
    def failed(self) -> bool:
        return any(p.failed for purges in self.tenants.values() for p in purges)


class RetentionSweep:
    """Runs one sweep at a time over every collection; safe to call from a scheduler thread or the CLI."""

    def __init__(
        self,
        store: Store,
        policy: Callable[[], GatewayPolicy],
        auditor: Auditor,
        drift: DriftPurger | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        expired: Callable[[float], dict[str, int]] | None = None,
    ) -> None:
        self._expired = expired  # the batch API's files and jobs past their expiry: purged, counts returned
        self._store = store
        self._policy = policy
        self._auditor = auditor
        self._drift = drift
        self._clock = clock

    def run(self, now: datetime | None = None, *, trigger: str = "schedule") -> SweepReport:
        """Purge everything past its retention as of ``now`` (default: the clock) and audit it per tenant."""
        when = self._when(now)
        policy = self._policy()
        report = SweepReport(when.astimezone(UTC).isoformat())
        for c, days in under_retention(self._store, policy):
            purge = self._purge(c, days, when - timedelta(days=days))
            if purge is not None:
                report.tenants.setdefault(c.tenant, []).append(purge)
        for tenant, purges in report.tenants.items():
            failed = any(p.failed for p in purges)
            self._auditor.record_sync(
                "retention.purge", "error" if failed else "allow", tenant=tenant, trigger=trigger,
                as_of=report.now, policy_version=policy.version, count=sum(p.chunks for p in purges),
                # keyed by digest: a collection's name is the caller's choice (its entries' collection_digest)
                collections={self._auditor.digest(tenant, p.collection): p.as_audit() for p in purges},
            )
        if self._expired is not None:
            counts = self._expired(when.timestamp())
            report.expired.update(counts)
            if any(counts.values()):
                self._auditor.record_sync("file.purge", "allow", tenant="*", trigger=trigger, as_of=report.now,
                                          count=sum(counts.values()), **counts)
        return report

    def _when(self, now: datetime | None) -> datetime:
        return _aware(self._clock() if now is None else now)

    def _purge(self, c: Collection, days: int, cutoff: datetime) -> CollectionPurge | None:
        stamp = cutoff.astimezone(UTC).isoformat()
        try:
            chunks = self._store.purge_before(c.tenant, c.name, cutoff)
            drift = 0 if self._drift is None else self._drift.purge_before(c, cutoff, chunks_purged=chunks > 0)
        except NotFound:
            return None  # dropped while the sweep ran: nothing left to keep or purge
        except Exception as exc:  # one failing collection must not stop the others, nor go unaudited
            log.error("retention purge of a collection failed: %s", type(exc).__name__)
            return CollectionPurge(c.name, days, stamp, failed=True)
        return CollectionPurge(c.name, days, stamp, chunks, drift)


def parse_now(text: str) -> datetime:
    """``--now``: an ISO 8601 time with a time zone (``Z`` or an offset); BadRequest otherwise."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest("--now must be an ISO 8601 time, e.g. 2030-01-01T00:00:00Z") from None
    if when.tzinfo is None:
        raise BadRequest("--now needs a time zone, e.g. 2030-01-01T00:00:00Z or +00:00")
    try:  # its UTC time and the cutoff of the longest retention (36,500 days) must be dates: else an OverflowError
        when.astimezone(UTC) - timedelta(days=36500)
    except OverflowError:
        raise BadRequest("--now must lie between the years 101 and 9999") from None
    return when


def _aware(when: datetime) -> datetime:
    """``when``, refused (``BadRequest``) without a time zone."""
    if when.tzinfo is None:
        raise BadRequest("the sweep time needs a time zone", param="now")
    return when


def under_retention(store: Store, policy: GatewayPolicy) -> Iterator[tuple[Collection, int]]:
    """Each collection whose effective policy sets ``retention_days``, with its days."""
    for c in store.all_collections():
        days = policy.scope(c.tenant, c.name).retention_days
        if days is not None:
            yield c, days


def preview(store: Store, policy: GatewayPolicy, now: datetime) -> SweepReport:
    """What a sweep would purge as of ``now`` (timezone-aware): the chunks of each collection under retention,
    counted; nothing is deleted and nothing is audited (drift rows and the batch API's expired files are not
    counted)."""
    report = SweepReport(_aware(now).astimezone(UTC).isoformat())
    for c, days in under_retention(store, policy):
        cutoff = now - timedelta(days=days)
        try:
            chunks = store.count_before(c.tenant, c.name, cutoff)
        except NotFound:
            continue  # dropped meanwhile
        report.tenants.setdefault(c.tenant, []).append(
            CollectionPurge(c.name, days, cutoff.astimezone(UTC).isoformat(), chunks))
    return report
