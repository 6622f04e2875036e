"""Everything the embedded default keeps in SQLite, opened together: what ``build_services`` uses when
``database_url`` does not name PostgreSQL (the counterpart of ``backends.postgres.open``).

API keys, wrapped data keys, jobs and usage share the data dir's ``gateway.db`` with the store; the privacy ledger has a
file
of its own (``privacy.db``); the Casbin policy is read from ``policy.csv`` (``auth.authz.Authorizer``). Each
table is created if missing, so a fresh data dir needs no manual step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.auth.authz import Authorizer
from gateway.backends.sqlite.apikeys import SQLiteApiKeyRepository
from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.backends.sqlite.datakeys import SQLiteDataKeyRepository
from gateway.backends.sqlite.files import SQLiteFileStore
from gateway.backends.sqlite.job_inputs import SQLiteJobInputs
from gateway.backends.sqlite.jobs import SQLiteJobStore
from gateway.backends.sqlite.ledger import SQLitePrivacyLedger
from gateway.backends.sqlite.listen import Listener
from gateway.backends.sqlite.quotas import SQLiteQuotaCounter
from gateway.backends.sqlite.store import SQLiteStore
from gateway.backends.sqlite.usage import SQLiteUsageRepository
from gateway.crypto.envelope import Envelope
from gateway.limits.quotas import QuotaBook
from gateway.limits.rate import RateLimiter
from gateway.settings import Settings
from gateway.store.base import IntegrityCallback

LEDGER_FILE = "privacy.db"
POLL_INTERVAL_S = 0.5  # how stale another worker's index may be: the change feed's poll (docs/operations.md)


@dataclass
class SQLiteBackends:
    db: SQLiteDatabase
    settings: Settings
    authorizer: Authorizer
    apikeys: SQLiteApiKeyRepository
    datakeys: SQLiteDataKeyRepository
    ledger: SQLitePrivacyLedger
    jobs: SQLiteJobStore
    files: SQLiteFileStore
    job_inputs: SQLiteJobInputs
    usage: SQLiteUsageRepository
    listener: Listener | None = field(default=None)

    def quota_counter(self, limiter: RateLimiter) -> QuotaBook | SQLiteQuotaCounter:
        """With one process, quotas counted in its memory (exact; the day counters are seeded from the usage table,
        so that a restart keeps the day's spend); with several worker processes, in the database they share."""
        if self.settings.workers > 1:
            return SQLiteQuotaCounter(self.db)
        usage = self.usage
        return QuotaBook(limiter, recorded=lambda tenant, day: usage.read(tenant, day, day))

    def store(self, envelope: Envelope, on_integrity_failure: IntegrityCallback | None = None) -> SQLiteStore:
        """The store, on the same database as the keys, with its encrypted index snapshots under the data dir, and
        the listener that keeps its indexes current with what other processes (workers, the CLI) write."""
        store = SQLiteStore(self.settings.data_dir, envelope, self.db, on_integrity_failure=on_integrity_failure,
                            on_close=self.close)
        self.listener = Listener(self.db, {"store": store.sync.refresh}, poll_interval_s=POLL_INTERVAL_S)
        self.listener.start()
        return store

    def close(self) -> None:
        if self.listener is not None:
            self.listener.stop()


def open_sqlite_backends(settings: Settings, db: SQLiteDatabase | None = None) -> SQLiteBackends:
    """``db`` is the data dir's database when the caller already holds it (its connections are per thread)."""
    db = db if db is not None else SQLiteDatabase(settings.sqlite_path)
    return SQLiteBackends(
        db=db, settings=settings, authorizer=Authorizer(settings.policy_dir), apikeys=SQLiteApiKeyRepository(db),
        datakeys=SQLiteDataKeyRepository(db), ledger=SQLitePrivacyLedger(settings.data_dir / LEDGER_FILE),
        jobs=SQLiteJobStore(db), files=SQLiteFileStore(db), job_inputs=SQLiteJobInputs(db),
        usage=SQLiteUsageRepository(db),
    )
