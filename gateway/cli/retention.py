"""``gateway retention sweep [--now ISO-8601] [--dry-run]``: one retention sweep by hand, audited like the scheduled
one, or with ``--dry-run`` only the counts of what it would purge (nothing deleted, nothing audited).

``--now`` applies another date (a test, or an operator checking what a shorter retention would purge).
On the embedded backend it refuses to run while a gateway serves the data directory (that gateway holds the live
index and sweeps on its own schedule); on PostgreSQL the replicas follow the deletions through the change feed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from gateway.settings import Settings

if TYPE_CHECKING:
    from gateway.jobs.base import JobInputs, JobStore
    from gateway.jobs.files import FileStore
    from gateway.policy.loader import GatewayPolicy


def _sweep(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.backends.sqlite.connection import SQLiteDatabase
    from gateway.backends.sqlite.drift import SQLiteDriftRepository
    from gateway.cli.commands import _offline_store
    from gateway.cli.common import offline_auditor
    from gateway.cli.runlock import ensure_not_serving
    from gateway.drift.monitor import DriftMonitor
    from gateway.policy.loader import DriftThresholds, load_policy
    from gateway.retention.sweep import RetentionSweep, parse_now

    now = parse_now(args.now) if args.now else None
    if not settings.uses_postgres:
        ensure_not_serving(settings.data_dir, "a retention sweep by hand",
                           "the sweep the gateway runs every retention_sweep_interval_s")
    policy = load_policy(settings.policy_dir / "gateway.yaml")
    if args.dry_run:
        return _preview(settings, policy, now or datetime.now(UTC))
    log, auditor = offline_auditor(settings)
    envelope, store = _offline_store(settings)
    try:
        drift = DriftMonitor(SQLiteDriftRepository(SQLiteDatabase(settings.sqlite_path), envelope),
                             lambda tenant, name: DriftThresholds())
        report = RetentionSweep(store, lambda: policy, auditor, drift, expired=_expired(settings)).run(now,
                                                                                                     trigger="cli")
    finally:
        store.close()
        log.close()
    for tenant, purges in sorted(report.tenants.items()):
        for p in purges:
            outcome = "FAILED (see the log; the next sweep retries)" if p.failed else \
                f"{p.chunks} chunks and {p.drift_rows} drift rows purged"
            print(f"{tenant}/{p.collection}: retention {p.retention_days} days, cutoff {p.cutoff}: {outcome}")
    governed = sum(len(purges) for purges in report.tenants.values())
    print(f"retention sweep as of {report.now}: {report.chunks} chunks purged in {governed} collections "
          "under retention; audited as retention.purge")
    if any(report.expired.values()):
        print(f"past their expiry: {report.expired.get('files', 0)} files and {report.expired.get('jobs', 0)} jobs "
              "purged; audited as file.purge")
    if report.failed:
        print("some collections could not be purged", file=sys.stderr)
        return 1
    return 0


def _preview(settings: Settings, policy: GatewayPolicy, now: datetime) -> int:
    """``--dry-run``: what a sweep as of ``now`` would purge, counted; nothing deleted, nothing audited."""
    from gateway.cli.commands import _offline_store
    from gateway.retention.sweep import preview

    _, store = _offline_store(settings)
    try:
        report = preview(store, policy, now)
    finally:
        store.close()
    for tenant, purges in sorted(report.tenants.items()):
        for p in purges:
            print(f"{tenant}/{p.collection}: retention {p.retention_days} days, cutoff {p.cutoff}: "
                  f"{p.chunks} chunks would be purged")
    governed = sum(len(purges) for purges in report.tenants.values())
    print(f"dry run as of {report.now}: {report.chunks} chunks would be purged in {governed} collections under "
          "retention (drift windows and expired batch files not counted); nothing was deleted or audited")
    return 0


def _expired(settings: Settings) -> Callable[[float], dict[str, int]]:
    """The batch API's files and the jobs past their expiry, purged as the running gateway's sweep purges them."""
    from gateway.jobs.base import purge_expired

    stores = background_stores(settings)
    return lambda now: purge_expired(*stores, now)


def background_stores(settings: Settings) -> tuple[FileStore, JobStore, JobInputs]:
    """The backend's files, jobs and staged job inputs, for a command run beside (or instead of) the gateway."""
    if settings.uses_postgres:
        from gateway.backends.postgres.connection import PgDatabase
        from gateway.backends.postgres.files import PgFileStore
        from gateway.backends.postgres.job_inputs import PgJobInputs
        from gateway.backends.postgres.jobs import PgJobStore

        pg = PgDatabase(settings.database_url.reveal(), max_size=1)
        return PgFileStore(pg), PgJobStore(pg), PgJobInputs(pg)
    from gateway.backends.sqlite.connection import SQLiteDatabase
    from gateway.backends.sqlite.files import SQLiteFileStore
    from gateway.backends.sqlite.job_inputs import SQLiteJobInputs
    from gateway.backends.sqlite.jobs import SQLiteJobStore

    db = SQLiteDatabase(settings.sqlite_path)
    return SQLiteFileStore(db), SQLiteJobStore(db), SQLiteJobInputs(db)


def add_commands(sub: Any) -> None:
    retention = sub.add_parser("retention", help="retention of stored records").add_subparsers(
        dest="retention_command", required=True)
    sweep = retention.add_parser("sweep", help="purge what is past its policy's retention_days, now")
    sweep.add_argument("--now", help="apply this time instead of the clock: ISO 8601 with a time zone, "
                       "e.g. 2030-01-01T00:00:00Z")
    sweep.add_argument("--dry-run", action="store_true", help="only count what would be purged (per collection); "
                       "delete nothing, audit nothing")
    sweep.set_defaults(func=_sweep)
