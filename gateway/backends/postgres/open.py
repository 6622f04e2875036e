"""Everything a replica keeps in PostgreSQL, opened together: what ``build_services`` uses when
``database_url`` names PostgreSQL.

Opening applies pending schema migrations and seeds the Casbin rules from ``policy.csv`` if the table is
empty (both idempotent and safe when replicas start together), so a fresh database needs no manual step;
``gateway db upgrade`` does the same ahead of a rollout. One ``Listener`` per replica follows the store's
change sequence and the shared Casbin policy.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from audit.checkpoint import CheckpointSigner
from audit.pg_log import PgAuditLog
from gateway.backends.postgres.apikeys import PgApiKeyRepository
from gateway.backends.postgres.casbin import PgAuthorizer, seed_policy
from gateway.backends.postgres.connection import PgDatabase
from gateway.backends.postgres.datakeys import PgDataKeyRepository
from gateway.backends.postgres.files import PgFileStore
from gateway.backends.postgres.job_inputs import PgJobInputs
from gateway.backends.postgres.jobs import PgJobStore
from gateway.backends.postgres.ledger import PgPrivacyLedger
from gateway.backends.postgres.listen import Listener
from gateway.backends.postgres.migrations import upgrade
from gateway.backends.postgres.quotas import PgQuotaCounter
from gateway.backends.postgres.store import PostgresStore
from gateway.backends.postgres.usage import PgUsageRepository
from gateway.crypto.envelope import Envelope
from gateway.crypto.keyfiles import KeyMaterial
from gateway.limits.rate import RateLimiter
from gateway.observability.logs import VettedName
from gateway.settings import Settings
from gateway.store.base import IntegrityCallback
from gateway.witnessing.published import guard_log

log = logging.getLogger(__name__)
AUDIT_KEY_NAME = "gateway-audit"  # the same key name as the embedded log's (gateway.auditing.auditor)
POLL_INTERVAL_S = 0.5


def prepare_database(db: PgDatabase, settings: Settings) -> tuple[list[int], int]:
    """Apply migrations and seed the Casbin rules; returns (versions applied, rules seeded)."""
    applied = upgrade(db)
    seeded = seed_policy(db, settings.policy_dir / "policy.csv")
    return applied, seeded


def open_pg_audit_log(settings: Settings, keys: KeyMaterial) -> PgAuditLog:
    signer = CheckpointSigner(keys.audit_private_key, AUDIT_KEY_NAME)
    log = PgAuditLog(settings.database_url.reveal(), signer, settings.origin, settings.checkpoint_interval_s)
    guard_log(log, settings.keys_dir, keys.audit_public_key)  # refuses a rewritten log; raises after closing it
    return log


@dataclass
class PgBackends:
    db: PgDatabase
    settings: Settings
    authorizer: PgAuthorizer
    apikeys: PgApiKeyRepository
    datakeys: PgDataKeyRepository
    ledger: PgPrivacyLedger
    jobs: PgJobStore
    files: PgFileStore
    job_inputs: PgJobInputs
    usage: PgUsageRepository
    listener: Listener | None = field(default=None)

    def quota_counter(self, limiter: RateLimiter) -> PgQuotaCounter:
        """Quotas counted in the database, so that they hold for every replica's requests together."""
        return PgQuotaCounter(self.db)

    def store(self, envelope: Envelope, on_integrity_failure: IntegrityCallback | None = None) -> PostgresStore:
        """The store, with the listener that keeps its indexes and the Casbin policy current started."""
        store = PostgresStore(self.db, envelope, on_integrity_failure=on_integrity_failure, on_close=self.close)
        self.listener = Listener(
            self.settings.database_url.reveal(),
            {"store": store.sync.refresh, "casbin": self.authorizer.refresh},
            poll_interval_s=POLL_INTERVAL_S,
        )
        self.listener.start()
        return store

    def close(self) -> None:
        if self.listener is not None:
            self.listener.stop()
        self.db.close()


def open_pg_backends(settings: Settings) -> PgBackends:
    db = PgDatabase(settings.database_url.reveal())
    applied, seeded = prepare_database(db, settings)
    if applied or seeded:
        log.info("database prepared: migrations %s applied, %d Casbin rules seeded",
                 VettedName(",".join(map(str, applied)) or "none"), seeded)
    return PgBackends(
        db=db, settings=settings, authorizer=PgAuthorizer(settings.policy_dir, db), apikeys=PgApiKeyRepository(db),
        datakeys=PgDataKeyRepository(db), ledger=PgPrivacyLedger(db), jobs=PgJobStore(db), files=PgFileStore(db),
        job_inputs=PgJobInputs(db),
        usage=PgUsageRepository(db),
    )
