"""The composition root: builds every stage from the settings and owns their lifetimes.

Handlers get one ``Services`` object; tests build it with fakes through ``build_services``'s keyword arguments.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import cast

from audit.backend import AuditLogBackend
from audit.group_commit import GroupCommitLog
from audit.policy_archive import ARCHIVE_DIR, PolicyArchive
from gateway.auditing.auditor import Auditor, UnauthenticatedFlood, open_audit_log
from gateway.auditing.forwarder import SyslogForwarder, syslog_forwarder
from gateway.auditing.ledger_check import check_ledger
from gateway.auditing.queries import AuditQueries
from gateway.auditing.reconcile import IngestReconciler
from gateway.auth.apikeys import ApiKeyRepository, Principal, authenticate
from gateway.auth.authz import Authorizer
from gateway.auth.console_login import ConsoleSignIn
from gateway.auth.identity import API_KEY_PREFIX, Authenticator, console_sign_in, provider_discovery, token_verifier
from gateway.auth.last_used import FLUSH_INTERVAL_S as LAST_USED_FLUSH_S
from gateway.backends.postgres.open import PgBackends, open_pg_audit_log, open_pg_backends
from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.backends.sqlite.drift import SQLiteDriftRepository
from gateway.backends.sqlite.open import SQLiteBackends, open_sqlite_backends
from gateway.crypto.envelope import Envelope
from gateway.crypto.keyfiles import KeyMaterial, key_files, load_keys
from gateway.embedding.embedder import Embedder
from gateway.embedding.factory import ModelFactory
from gateway.embedding.probing import FingerprintWatch
from gateway.embedding.registry import load_registry
from gateway.embedding.served import EmbedBatcher, ServedModels, build_models
from gateway.embedding.specs import ModelRegistry
from gateway.errors import NotFound
from gateway.jobs.files import FileVault
from gateway.jobs.runner import JobService
from gateway.limits.concurrency import KeyConcurrency
from gateway.limits.rate import RateLimiter
from gateway.limits.usage import Usage, UsageRepository, usage_adder
from gateway.observability.logs import VettedName
from gateway.observability.metrics import GatewayMetrics
from gateway.observability.wiring import Observability, TimedSink, attach
from gateway.pii.detector_types import DetectionSpend, Finding, PIIDetector
from gateway.pii.stage import DetectionStage, start_detection
from gateway.pipeline.background import build_background
from gateway.pipeline.batches import Batches
from gateway.pipeline.batching import MicroBatcher
from gateway.pipeline.collection_admin import CollectionAdmin
from gateway.pipeline.collections import CollectionService
from gateway.pipeline.cpus import available_cpus
from gateway.pipeline.ingest import Ingest
from gateway.pipeline.ingest_jobs import IngestJobKind
from gateway.pipeline.metering import Metering
from gateway.pipeline.offload import off_loop
from gateway.pipeline.search import Search
from gateway.pipeline.stage_fns import cached_secrets, detection_batchers
from gateway.pipeline.stages import EmbeddingPipeline
from gateway.policy.changes import PolicyVersions, reload_policies
from gateway.policy.loader import PolicyHolder, ScopePolicy
from gateway.privacy.accountant import PrivacyLedger, Release, Spend
from gateway.privacy.transform import UnsafeIdentityTransform, default_transform
from gateway.retention.sweep import RetentionSweep
from gateway.settings import Settings
from gateway.store.base import Collection, IntegrityFailure, Store
from gateway.witnessing.publisher import WitnessPublisher, close_witnessed, start_witnessing

log = logging.getLogger(__name__)

@dataclass
class Services:
    settings: Settings
    keys: KeyMaterial
    registry: ModelRegistry
    embedder: Embedder  # the default model's (the model_name setting)
    models: ServedModels  # every served model by name, the default among them
    fingerprints: FingerprintWatch
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
    embed_batcher: EmbedBatcher  # the default model's
    ledger_batcher: MicroBatcher[Release, Spend]
    ingest: Ingest  # the collections routes' use cases
    search: Search
    collection_admin: CollectionAdmin
    jobs: JobService  # durable background jobs (gateway.jobs): register a JobKind, create jobs, the runner
    files: FileVault  # OpenAI's Files API, sealed at rest
    batches: Batches  # OpenAI's Batch API (its lines run as jobs of BatchKind)
    ingest_jobs: IngestJobKind  # ingest with Prefer: respond-async, run by the jobs' runner
    rate_limiter: RateLimiter = field(default_factory=RateLimiter)
    concurrency: KeyConcurrency = field(default_factory=KeyConcurrency)
    report_gate: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(1))  # one report at a time
    observability: Observability | None = None
    witnesses: WitnessPublisher | None = None
    forwarder: SyslogForwarder | None = None
    policy_versions: PolicyVersions | None = None  # archived policy texts and the versions in force
    retention: RetentionSweep | None = None
    identity: Authenticator | None = None  # API keys and, when configured, the identity provider's tokens
    console_login: ConsoleSignIn | None = None  # the console's sign-in through the provider (PKCE), when configured
    reconciler: IngestReconciler | None = None  # ingest entries whose write never committed
    usage: UsageRepository | None = None  # tokens and requests per tenant, key, model and day
    metering: Metering | None = None  # quotas, usage records and the tokens counter
    forget_background: Callable[[str], dict[str, int]] | None = None  # a shredded tenant's files and jobs, deleted
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

    async def complete_console_sign_in(self, cookie: str | None, params: dict[str, str]) -> Principal:
        """The principal of the provider's redirect back to the console (``ConsoleSignIn.complete``), off the loop:
        it calls the provider's token endpoint and may fetch its key set."""
        if self.console_login is None:
            raise NotFound("the console's sign-in through an identity provider is not configured")
        return await off_loop(True, self.console_login.complete, cookie, params)

    async def find_collection(self, tenant: str, name: str) -> Collection:
        """The tenant's collection (``NotFound`` otherwise), looked up off the event loop on PostgreSQL, as the
        API key is (``authenticate_request``)."""
        return await off_loop(self.settings.uses_postgres, self.collections.store.get_collection, tenant, name)

    @property
    def audit_queries(self) -> AuditQueries:
        """The use cases reading the audit log (the audit routes and the console), off the loop on PostgreSQL."""
        return AuditQueries(self.audit_log, remote=self.settings.uses_postgres,
                            public_key=self.keys.audit_public_key, witnesses=self.witnesses,
                            versions=self.policy_versions, digest=self.auditor.digest, reports=self.report_gate)

    async def check_rate(self, principal: Principal) -> None:
        """The requests-per-minute limits: the key's (``quotas.key``, else ``rate_limit``) and the tenant's; on
        PostgreSQL counted in the database, off the loop."""
        scope = self.policy.current().scope(principal.tenant)
        if self.metering is None:
            self.rate_limiter.check(principal.key_id, scope.rate_limit_per_minute)
        else:
            await self.metering.admit_request(principal, scope.quotas, scope.rate_limit_per_minute)

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
        self.fingerprints.start_probing(self._stop)
        if self.forwarder is not None:
            self.forwarder.start()

    def _reconcile_writes(self, *, at_start: bool) -> None:
        """Follow each ingest entry whose write never committed with a ``write.unfinished`` entry. At the embedded
        default's start with one worker nothing else writes; otherwise (replicas, or other workers that may already
        serve) only entries older than a request's time limit are due."""
        if self.reconciler is None:
            return
        quiet = at_start and not self.settings.uses_postgres and self.settings.workers == 1
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
        reload_policies(self.policy, self.authorizer, self.policy_versions, self.auditor.record_sync,
                        self.detector_rebuild)

    def detector_rebuild(self) -> None:
        self.detector.rebuild(self.policy.current())  # a pool's every worker (gateway.pii.pool)
        log.info("PII detection rebuilt for policy version %s", VettedName(self.policy.current().version))

    def close(self) -> None:
        self._stop.set()
        self._flush_last_used()
        if self._sweeper is not None:
            self._sweeper.join(60)  # a sweep in progress finishes (and is audited) before the store closes
        self.detect_batcher.close()
        self.detect_long_batcher.close()
        self.detector.close()  # after its batchers: a pool's workers finish the batches in flight, then stop
        self.models.close()  # the default model's batcher among them
        self.ledger_batcher.close()
        if self.metering is not None:
            self.metering.close()  # its last usage records are written before the store closes
        try:
            self.collections.store.close()
        finally:  # a store that fails to close (a snapshot it cannot seal) must not leave the audit log open
            if self.forwarder is not None:  # what it has not sent yet goes after the restart, from the saved index
                self.forwarder.close()
            if self.witnesses is None:
                self.audit_log.close()
            else:  # the log this process opened: its last checkpoint is offered to the witnesses before it closes
                close_witnessed(cast(GroupCommitLog, self.audit_log), self.witnesses, timeout_s=5.0)


def build_services(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    embedders: Mapping[str, Embedder] | None = None,
    detector: PIIDetector | None = None,
    audit_sink: AuditLogBackend | None = None,
    detection: DetectionStage | None = None,  # started before the heavy imports (gateway.pii.stage)
) -> Services:
    keys = load_keys(settings.keys_dir, settings.kek_options)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    policy = detection.policy if detection is not None else PolicyHolder(settings.policy_dir / "gateway.yaml")
    # Per host on either backend: the embedded backend's database, and the drift statistics (docs/postgres.md).
    local_db = SQLiteDatabase(settings.sqlite_path)
    # PostgreSQL (database_url) shares keys, policy, ledger, audit log and store across replicas.
    backends: PgBackends | SQLiteBackends = (
        open_pg_backends(settings) if settings.uses_postgres else open_sqlite_backends(settings, local_db)
    )
    authorizer = backends.authorizer
    registry = load_registry(settings.policy_dir, settings.model_name)
    cpus = available_cpus()
    metrics = GatewayMetrics()
    default_spec = registry.get(settings.model_name.partition("@")[0])
    pii_threads, pii_ready = 1, None  # a detector handed in (tests' fakes): one thread per lane, ready
    if detector is None:
        detection = detection or start_detection(settings, cpus, policy)
        detector, pii_threads, pii_ready = detection.detector, detection.threads, detection.ready
    opened: GroupCommitLog | None = None  # the log this process opened (and has witnessed), not a handed-in one
    if audit_sink is None:
        opened = open_pg_audit_log(settings, keys) if settings.uses_postgres else open_audit_log(settings, keys)
        audit_log: AuditLogBackend = opened
    else:
        audit_log = audit_sink
    check_ledger(backends.ledger, audit_log, settings.data_dir, keys.tenant_secret)  # a ledger behind the log: refused
    detect_batcher, detect_long_batcher = detection_batchers(detector, settings, metrics, policy, pii_threads)
    # Embedders handed in (tests' fakes) serve the models they were made for; the factory builds the others.
    given = {**({embedder.spec.name: embedder} if embedder is not None else {}), **(embedders or {})}
    factory = ModelFactory(settings, metrics, cpus, lambda t: policy.current().scope(t).scheduling_weight, given)
    embedder = factory.embedder(default_spec)
    embed_batcher = factory.batcher(default_spec, embedder, name="embed")
    ledger: PrivacyLedger = backends.ledger
    # Charges of concurrent requests share one ledger transaction, off the event loop.
    ledger_batcher: MicroBatcher[Release, Spend] = MicroBatcher(
        ledger.record_many, name="ledger", max_size=settings.stage_batch_size, max_wait_s=0.0,
        max_queued_items=settings.queue_max_items, on_batch=metrics.batch_hook("ledger", "ledger"),
    )
    rate_limiter = RateLimiter()
    usage_batcher: MicroBatcher[Usage, None] = MicroBatcher(
        usage_adder(backends.usage), name="usage", max_size=settings.stage_batch_size, max_wait_s=0.0,
        max_queued_items=settings.queue_max_items, on_batch=metrics.batch_hook("usage", "usage"),
    )
    metering = Metering(backends.quota_counter(rate_limiter), embedder.count_tokens, usage_batcher, metrics)
    transform = default_transform() if settings.vector_transform == "default" else UnsafeIdentityTransform()
    base = EmbeddingPipeline(
        embedder.spec, detect_batcher, detect_long_batcher, embed_batcher, cached_secrets(keys),
        settings.max_text_chars, transform, ledger, ledger_batcher,
    )
    models = build_models(registry, settings.model_name, base, (embedder, embed_batcher), factory.embedder,
                          factory.batcher, settings.engine_probe_interval_s)
    pipeline = models.default.pipeline
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
    collections = CollectionService(store, pipeline, registry, embedder.offsets, settings.chunk_tokens,
                                    settings.chunk_overlap_tokens, metering, models=models)
    drift = SQLiteDriftRepository(local_db, envelope)
    metrics.sources.worker_pids = getattr(detector, "pids", None)  # a pool's processes (gateway_cpu_seconds)
    observability = attach(metrics, collections, drift, policy, audit_log, auditor,
                           {"pii": detect_batcher, "pii-long": detect_long_batcher, "embed": embed_batcher,
                            "ledger": ledger_batcher, "usage": usage_batcher,
                            **{m.batcher.name: m.batcher for m in models.all() if m.batcher is not embed_batcher}})
    metrics.engines.watch(models.circuits, models.in_service)
    fingerprints = FingerprintWatch(models, settings.data_dir, auditor, settings.engine_probe_interval_s)
    fingerprints.start(settings.policy_dir)  # probe the remote models, then audit the registry's changes
    witnesses = (start_witnessing(settings.audit_witnesses, opened, auditor, metrics, settings.keys_dir)
                 if opened is not None else None)
    concurrency = KeyConcurrency()  # requests in flight: background jobs wait while there are any
    background = build_background(settings, (backends.files, backends.jobs, backends.job_inputs), envelope, auditor,
                                  models, policy, authorizer, apikeys, collections, audit_log, busy=concurrency.total,
                                  metering=metering)
    if pii_ready is not None:
        pii_ready()  # a pool's workers loaded spaCy while the rest was built
    found = provider_discovery(settings)
    tokens = token_verifier(settings, found)
    identity = Authenticator(apikeys, authorizer, tokens)
    return Services(
        settings=settings, keys=keys, registry=registry, embedder=embedder, models=models, fingerprints=fingerprints,
        detector=detector, policy=policy, authorizer=authorizer, apikeys=apikeys, audit_log=audit_log,
        auditor=auditor, pipeline=pipeline, collections=collections, envelope=envelope,
        ledger=ledger, retention=RetentionSweep(collections.store, policy.current, auditor, observability.drift,
                                 expired=background.purge_expired),
        detect_batcher=detect_batcher, detect_long_batcher=detect_long_batcher, embed_batcher=embed_batcher,
        ledger_batcher=ledger_batcher, rate_limiter=rate_limiter, usage=backends.usage, metering=metering,
        ingest=background.ingest, ingest_jobs=background.ingest_jobs,
        search=Search(collections, lambda tenant, name: policy.current().scope(tenant, name),
                      lambda principal: authorizer.allowed(principal, "texts", "read"), pipeline.digests),
        # collections.store, not store: attach() wrapped it in the store that times calls and feeds drift.
        collection_admin=CollectionAdmin(collections, collections.store, policy.current, pipeline.detect,
                                         remote=settings.uses_postgres),
        observability=observability, witnesses=witnesses,
        forwarder=syslog_forwarder(settings, audit_log),
        identity=identity, console_login=console_sign_in(settings, found, tokens, identity),
        jobs=background.jobs, files=background.files, batches=background.batches, concurrency=concurrency,
        forget_background=background.forget_tenant,
        reconciler=IngestReconciler(audit_log, store, auditor.record_sync, settings.data_dir),
        policy_versions=PolicyVersions(PolicyArchive(settings.data_dir / ARCHIVE_DIR),
                                       settings.policy_dir / "gateway.yaml", authorizer.version_texts),
    )
