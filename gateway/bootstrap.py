"""The composition root: builds every stage from the settings and owns their lifetimes.

Handlers get one ``Services`` object; tests build it with fakes through the keyword arguments of
``build_services``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np

from audit.backend import AuditLogBackend
from audit.group_commit import GroupCommitLog
from audit.policy_archive import ARCHIVE_DIR, PolicyArchive
from gateway.auditing.auditor import Auditor, UnauthenticatedFlood, open_audit_log
from gateway.auditing.forwarder import SyslogForwarder, syslog_forwarder
from gateway.auditing.queries import AuditQueries
from gateway.auditing.reconcile import IngestReconciler
from gateway.auth.apikeys import ApiKeyRepository, Principal, authenticate
from gateway.auth.authz import Authorizer
from gateway.auth.identity import API_KEY_PREFIX, Authenticator, token_verifier
from gateway.auth.last_used import FLUSH_INTERVAL_S as LAST_USED_FLUSH_S
from gateway.backends.postgres.open import PgBackends, open_pg_audit_log, open_pg_backends
from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.backends.sqlite.drift import SQLiteDriftRepository
from gateway.backends.sqlite.open import SQLiteBackends, open_sqlite_backends
from gateway.crypto.envelope import Envelope
from gateway.crypto.keyfiles import KeyMaterial, key_files, load_keys
from gateway.embedding.embedder import Embedder, SentenceTransformerEmbedder, available_cpus
from gateway.embedding.registry import audit_registry_changes, load_registry
from gateway.embedding.specs import ModelRegistry
from gateway.jobs.runner import JobService
from gateway.limits.concurrency import KeyConcurrency
from gateway.limits.rate import RateLimiter
from gateway.observability.logs import VettedName
from gateway.observability.metrics import GatewayMetrics
from gateway.observability.wiring import Observability, TimedSink, attach
from gateway.pii.detector_types import DetectionSpend, Finding, PIIDetector
from gateway.pipeline.batching import MicroBatcher
from gateway.pipeline.collection_admin import CollectionAdmin
from gateway.pipeline.collections import CollectionService
from gateway.pipeline.ingest import Ingest
from gateway.pipeline.ingest_jobs import IngestJobKind, entry_reader
from gateway.pipeline.offload import off_loop
from gateway.pipeline.search import Search
from gateway.pipeline.stage_fns import cached_secrets, detect_fn, detect_long_fn, embed_fn
from gateway.pipeline.stages import EmbeddingPipeline
from gateway.policy.changes import PolicyVersions
from gateway.policy.loader import PolicyHolder, ScopePolicy
from gateway.privacy.accountant import PrivacyLedger, Release, Spend
from gateway.privacy.transform import UnsafeIdentityTransform, default_transform
from gateway.retention.sweep import RetentionSweep
from gateway.settings import Settings
from gateway.store.base import Collection, IntegrityFailure, Store
from gateway.witnessing.publisher import WitnessPublisher, start_witnessing

log = logging.getLogger(__name__)

@dataclass
class Services:
    settings: Settings
    keys: KeyMaterial
    registry: ModelRegistry
    embedder: Embedder
    detector: PIIDetector
    policy: PolicyHolder
    authorizer: Authorizer
    apikeys: ApiKeyRepository
    audit_log: AuditLogBackend
    auditor: Auditor
    pipeline: EmbeddingPipeline
    ledger: PrivacyLedger
    collections: CollectionService
    envelope: Envelope
    detect_batcher: MicroBatcher[tuple[str, ScopePolicy], list[Finding]]
    detect_long_batcher: MicroBatcher[tuple[str, ScopePolicy, DetectionSpend], list[Finding]]
    embed_batcher: MicroBatcher[str, tuple[np.ndarray, int]]
    ledger_batcher: MicroBatcher[Release, Spend]
    ingest: Ingest  # the collections routes' use cases
    search: Search
    collection_admin: CollectionAdmin
    jobs: JobService  # durable background jobs (gateway.jobs): register a JobKind, create jobs, the runner
    ingest_jobs: IngestJobKind  # ingest with Prefer: respond-async, run by the jobs' runner
    rate_limiter: RateLimiter = field(default_factory=RateLimiter)
    concurrency: KeyConcurrency = field(default_factory=KeyConcurrency)
    observability: Observability | None = None
    witnesses: WitnessPublisher | None = None
    forwarder: SyslogForwarder | None = None
    policy_versions: PolicyVersions | None = None  # archived policy texts and the versions in force
    retention: RetentionSweep | None = None
    identity: Authenticator | None = None  # API keys and, when configured, the identity provider's tokens
    reconciler: IngestReconciler | None = None  # ingest entries whose write never committed
    _stop: threading.Event = field(default_factory=threading.Event)
    _watcher: threading.Thread | None = None
    _sweeper: threading.Thread | None = None

    def authenticate(self, presented: str | None) -> Principal:
        if self.identity is None:
            return authenticate(self.apikeys, presented)
        return self.identity.authenticate(presented)

    async def authenticate_request(self, presented: str | None) -> Principal:
        """``authenticate`` for a request on the event loop. On PostgreSQL the key is looked up on a worker thread:
        each lookup is a transaction of several network round trips, which on the loop would stall every other
        request. A local SQLite lookup (tens of microseconds) stays on the loop, where it is cheaper than a
        thread hop."""
        token = self.identity is not None and not (presented or "").startswith(API_KEY_PREFIX)
        # A token's key set may need fetching again (a provider's key rotation): never on the loop either.
        return await off_loop(self.settings.uses_postgres or token, self.authenticate, presented)

    async def find_collection(self, tenant: str, name: str) -> Collection:
        """The tenant's collection (``NotFound`` otherwise), looked up off the event loop on PostgreSQL, as the
        API key is (``authenticate_request``)."""
        return await off_loop(self.settings.uses_postgres, self.collections.store.get_collection, tenant, name)

    @property
    def audit_queries(self) -> AuditQueries:
        """The use cases reading the audit log (the audit routes and the console), off the loop on PostgreSQL."""
        return AuditQueries(self.audit_log, remote=self.settings.uses_postgres,
                            public_key=self.keys.audit_public_key, witnesses=self.witnesses,
                            versions=self.policy_versions, digest=self.auditor.digest)

    def check_rate(self, principal: Principal) -> None:
        scope = self.policy.current().scope(principal.tenant)
        self.rate_limiter.check(principal.key_id, scope.rate_limit_per_minute)

    def scope(self, tenant: str, collection: str | None = None) -> ScopePolicy:
        return self.policy.current().scope(tenant, collection)

    def readiness(self) -> dict[str, bool]:
        """What /readyz reports: each dependency a request needs, checked cheaply."""
        keys_present = all((self.settings.keys_dir / name).exists() for name in key_files(self.settings.kek_options))
        try:
            self.apikeys.find("0" * 16)
            store_open = True
        except Exception:
            store_open = False
        return {
            "model_loaded": self.embedder is not None,
            "store_open": store_open,
            "keys_present": keys_present,
            "audit_log_open": self.audit_log is not None,
        }

    def start_watcher(self) -> None:
        """Poll the policy files; a change takes effect within the reload interval, a broken file never does."""

        if self.policy_versions is not None:
            self.policy_versions.start()

        def watch() -> None:
            flushed = time.monotonic()
            while not self._stop.wait(self.settings.policy_reload_interval_s):
                try:
                    self._reload_policies()
                except Exception:  # the watcher must survive anything a policy author does
                    log.exception("policy watcher iteration failed")
                if time.monotonic() - flushed >= LAST_USED_FLUSH_S:
                    flushed = time.monotonic()
                    self._flush_last_used()
                    self._reconcile_writes(at_start=False)

        self._reconcile_writes(at_start=True)
        self._watcher = threading.Thread(target=watch, name="policy-watcher", daemon=True)
        self._watcher.start()
        self._start_retention()
        if self.forwarder is not None:
            self.forwarder.start()

    def _reconcile_writes(self, *, at_start: bool) -> None:
        """Follow each ingest entry whose write never committed with a ``write.unfinished`` entry. At the embedded
        default's start nothing else writes; otherwise only entries older than a request's time limit are due."""
        if self.reconciler is None:
            return
        quiet = at_start and not self.settings.uses_postgres
        try:
            self.reconciler.sweep(timedelta(0) if quiet else timedelta(seconds=self.settings.request_timeout_s + 30))
        except Exception as exc:  # retried at the next sweep; the entries stay where they are
            log.warning("could not reconcile the log's writes with the store: %s", type(exc).__name__)

    def _flush_last_used(self) -> None:
        """Write the API keys' last-use times (``auth.last_used``); a failure only delays them."""
        try:
            if self.identity is not None:
                self.identity.last_used.flush()
        except Exception as exc:
            log.warning("could not record the API keys' last use: %s", type(exc).__name__)

    def _start_retention(self) -> None:
        """Sweep once at start (a gateway restarted often must still purge), then every interval (0: never)."""
        interval, sweep = self.settings.retention_sweep_interval_s, self.retention
        if interval <= 0 or sweep is None:
            return

        def run() -> None:
            while True:
                try:
                    sweep.run()
                except Exception:  # the scheduler must survive a failed sweep; the next one retries
                    log.exception("retention sweep failed")
                if self._stop.wait(interval):
                    return

        self._sweeper = threading.Thread(target=run, name="retention-sweep", daemon=True)
        self._sweeper.start()

    def _reload_policies(self) -> None:
        """Reload what changed and audit it: a new version in force, or a broken file refused."""
        failed_before = self.policy.last_error
        versions = self.policy_versions
        if self.authorizer.reload_if_changed():
            fields = versions.casbin_reloaded() if versions else [{"tenant": "*", "what": "casbin"}]
            for entry in fields:  # one entry per tenant whose rules changed, then the platform-wide one
                self.auditor.record_sync("policy.reload", "allow", **entry)
        if self.policy.reload_if_changed():
            self.detector_rebuild()
            fields = versions.gateway_reloaded() if versions else [{"tenant": "*", "what": "gateway"}]
            for entry in fields:
                self.auditor.record_sync("policy.reload", "allow", policy_version=self.policy.current().version,
                                         **entry)
        elif self.policy.last_error is not None and self.policy.last_error is not failed_before:
            self.auditor.record_sync("policy.reload", "deny", tenant="*", what="gateway",
                                     reason="the changed policy file was rejected; the previous one stays",
                                     policy_version=self.policy.current().version,
                                     **(versions.rejected() if versions else {}))

    def detector_rebuild(self) -> None:
        rebuild = getattr(self.detector, "rebuild", None)
        if rebuild is not None:
            rebuild(self.policy.current())
        log.info("gateway policy reloaded: %s", VettedName(self.policy.current().version))

    def close(self) -> None:
        self._stop.set()
        self._flush_last_used()
        if self._sweeper is not None:
            self._sweeper.join(60)  # a sweep in progress finishes (and is audited) before the store closes
        self.detect_batcher.close()
        self.detect_long_batcher.close()
        self.embed_batcher.close()
        self.ledger_batcher.close()
        self.collections.store.close()
        if self.forwarder is not None:  # what it has not sent yet goes after the restart, from the saved index
            self.forwarder.close()
        self.audit_log.close()
        if self.witnesses is not None:  # after the log's final checkpoint, which it then tries to get cosigned
            final = self.audit_log.latest_checkpoint()
            if final is not None:
                self.witnesses.published(final, timeout_s=5.0)
            self.witnesses.close()


def build_services(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    detector: PIIDetector | None = None,
    audit_sink: AuditLogBackend | None = None,
) -> Services:
    keys = load_keys(settings.keys_dir, settings.kek_options)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    policy = PolicyHolder(settings.policy_dir / "gateway.yaml")
    # Per host on either backend: the embedded backend's database, and the drift statistics (docs/postgres.md).
    local_db = SQLiteDatabase(settings.sqlite_path)
    # PostgreSQL (database_url) shares keys, policy, ledger, audit log and store across replicas.
    backends: PgBackends | SQLiteBackends = (
        open_pg_backends(settings) if settings.uses_postgres else open_sqlite_backends(settings, local_db)
    )
    authorizer = backends.authorizer
    registry = load_registry(settings.policy_dir, settings.model_name)
    cpus = available_cpus()
    if embedder is None:
        embedder = SentenceTransformerEmbedder(registry.get(settings.model_name.partition("@")[0]),
                                               settings.device, settings.fp16,
                                               batch_size=settings.model_batch_size, cpu_threads=cpus,
                                               traced=settings.traced_forward)
    metrics = GatewayMetrics()
    if detector is None:
        from gateway.pii.detector import PresidioDetector  # heavy: spaCy and Presidio

        detector = PresidioDetector(settings.spacy_model, policy=policy.current())
    opened: GroupCommitLog | None = None  # the log this process opened (and has witnessed), not a handed-in one
    if audit_sink is None:
        opened = open_pg_audit_log(settings, keys) if settings.uses_postgres else open_audit_log(settings, keys)
        audit_log: AuditLogBackend = opened
    else:
        audit_log = audit_sink
    detect_batcher: MicroBatcher[tuple[str, ScopePolicy], list[Finding]] = MicroBatcher(
        detect_fn(detector), name="pii", max_size=settings.stage_batch_size,
        max_weight=settings.batch_max_tokens, max_wait_s=settings.batch_max_wait_ms / 1000,
        max_queued_items=settings.queue_max_items, on_batch=metrics.batch_hook("pii", "pii"),
        lane_weight=lambda tenant: policy.current().scope(tenant).scheduling_weight,
    )
    # Long texts on a lane of their own (one at a time, under the request's budget): see EmbeddingPipeline.detect.
    detect_long_batcher: MicroBatcher[tuple[str, ScopePolicy, DetectionSpend], list[Finding]] = MicroBatcher(
        detect_long_fn(detector, settings.pii_budget_s), name="pii-long", max_size=1,
        max_queued_items=settings.queue_max_items, on_batch=metrics.batch_hook("pii-long", "pii"),
    )
    embed_batcher: MicroBatcher[str, tuple[np.ndarray, int]] = MicroBatcher(
        embed_fn(embedder), name="embed", max_size=settings.stage_batch_size,
        max_weight=settings.batch_max_tokens, max_wait_s=settings.batch_max_wait_ms / 1000,
        max_queued_items=settings.queue_max_items, on_batch=metrics.batch_hook("embed", "embed"),
        workers=settings.model_workers(cpus),
        lane_weight=lambda tenant: policy.current().scope(tenant).scheduling_weight,
        # A second worker joins for a quarter pass of work. On 2 cores, 16 one-text clients: 135-138 texts/s
        # against 115-117 when it waited for a full pass (16); 64 and 256 clients within the noise either way.
        join_min=max(1, settings.model_batch_size // 4),
    )
    ledger: PrivacyLedger = backends.ledger
    # Charges of concurrent requests share one ledger transaction, off the event loop.
    ledger_batcher: MicroBatcher[Release, Spend] = MicroBatcher(
        ledger.record_many, name="ledger", max_size=settings.stage_batch_size, max_wait_s=0.0,
        max_queued_items=settings.queue_max_items, on_batch=metrics.batch_hook("ledger", "ledger"),
    )
    transform = default_transform() if settings.vector_transform == "default" else UnsafeIdentityTransform()
    pipeline = EmbeddingPipeline(
        embedder.spec, detect_batcher, detect_long_batcher, embed_batcher, cached_secrets(keys),
        settings.max_text_chars, transform, ledger, ledger_batcher,
    )
    auditor = Auditor(
        TimedSink(audit_log, metrics), cached_secrets(keys), max_entry_bytes=settings.audit_max_entry_bytes,
        flood=UnauthenticatedFlood(settings.audit_unauthenticated_burst, settings.audit_unauthenticated_window_s),
    )

    def integrity_failure(failure: IntegrityFailure) -> None:
        # Never blocks the read that found it; the entry is durable within one group commit.
        entry = auditor.entry("crypto.integrity_failure", None, "error", {
            "tenant": failure.tenant, "collection": failure.collection, "record_id": failure.record_id,
            "operation": failure.operation,
        })
        audit_log.submit(entry)

    envelope = Envelope(keys.kek, backends.datakeys)
    envelope.check_kek()  # a wrong KEK stops the start here, not every later read
    store: Store = backends.store(envelope, integrity_failure)
    apikeys: ApiKeyRepository = backends.apikeys
    collections = CollectionService(
        store, pipeline, registry, embedder.offsets, settings.chunk_tokens, settings.chunk_overlap_tokens
    )
    drift = SQLiteDriftRepository(local_db, envelope)
    observability = attach(metrics, collections, drift, policy, audit_log, auditor,
                           {"pii": detect_batcher, "pii-long": detect_long_batcher, "embed": embed_batcher,
                            "ledger": ledger_batcher})
    audit_registry_changes(settings.policy_dir, settings.data_dir, auditor)
    witnesses = (
        start_witnessing(settings.audit_witnesses, opened, auditor, metrics, settings.keys_dir)
        if opened is not None else None
    )
    jobs = JobService(backends.jobs, envelope, auditor, lease_s=settings.jobs_lease_s, poll_s=settings.jobs_poll_s,
                      inflight=settings.jobs_inflight_items, keep_s=settings.files_expiry_days * 86400.0)
    ingest = Ingest(collections, policy.current, pipeline.digests, auditor,
                    max_documents=settings.max_documents_per_ingest, max_text_chars=settings.max_text_chars)
    ingest_jobs = IngestJobKind(jobs, ingest, backends.job_inputs, envelope, collections.store.document,
                                collections.store.get_collection, entry_reader(audit_log), auditor,
                                remote=settings.uses_postgres)
    jobs.register(ingest_jobs)
    return Services(
        settings=settings, keys=keys, registry=registry, embedder=embedder, detector=detector, policy=policy,
        authorizer=authorizer, apikeys=apikeys, audit_log=audit_log,
        auditor=auditor, pipeline=pipeline, collections=collections, envelope=envelope,
        ledger=ledger, retention=RetentionSweep(collections.store, policy.current, auditor, observability.drift),
        detect_batcher=detect_batcher, detect_long_batcher=detect_long_batcher, embed_batcher=embed_batcher,
        ledger_batcher=ledger_batcher,
        ingest=ingest, ingest_jobs=ingest_jobs,
        search=Search(collections, lambda tenant, name: policy.current().scope(tenant, name),
                      lambda principal: authorizer.allowed(principal, "texts", "read"), pipeline.digests),
        # collections.store, not store: attach() wrapped it in the store that times calls and feeds drift.
        collection_admin=CollectionAdmin(collections, collections.store, policy.current, pipeline.detect,
                                         remote=settings.uses_postgres),
        observability=observability, witnesses=witnesses,
        forwarder=syslog_forwarder(settings, audit_log),
        identity=Authenticator(apikeys, authorizer, *token_verifier(settings)),
        jobs=jobs,
        reconciler=IngestReconciler(audit_log, store, auditor.record_sync, settings.data_dir),
        policy_versions=PolicyVersions(PolicyArchive(settings.data_dir / ARCHIVE_DIR),
                                       settings.policy_dir / "gateway.yaml", authorizer.version_files),
    )
