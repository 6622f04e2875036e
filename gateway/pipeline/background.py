"""The work the gateway does in the background, assembled: uploaded files, durable jobs and their kinds (the Batch
API's lines, ingest with ``Prefer: respond-async``). ``build_services`` calls ``build_background`` once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from audit.backend import AuditLogBackend
from gateway.auditing.auditor import Auditor
from gateway.auth.apikeys import ApiKeyRepository
from gateway.auth.authz import Authorizer
from gateway.crypto.envelope import Envelope
from gateway.embedding.served import ServedModels
from gateway.jobs.base import CreatorCheck, JobInputs, JobStore, forget_jobs, forget_tenant, purge_expired
from gateway.jobs.files import FileStore, FileVault
from gateway.jobs.runner import JobService
from gateway.pipeline.batches import Batches, BatchKind
from gateway.pipeline.collections import CollectionService
from gateway.pipeline.ingest import Ingest
from gateway.pipeline.ingest_jobs import IngestJobKind, entry_reader
from gateway.pipeline.metering import Metering
from gateway.policy.loader import PolicyHolder
from gateway.settings import Settings


@dataclass(frozen=True)
class Background:
    files: FileVault  # OpenAI's Files API, sealed at rest
    jobs: JobService  # durable jobs: the runner, leases, resumption
    batches: Batches  # OpenAI's Batch API (its lines run as jobs of BatchKind)
    ingest: Ingest  # the synchronous ingest use case, which ingest jobs run document by document
    ingest_jobs: IngestJobKind  # ingest with Prefer: respond-async
    stores: tuple[FileStore, JobStore, JobInputs]

    def purge_expired(self, now: float) -> dict[str, int]:
        """Files and jobs past their expiry as of ``now``, for the retention sweep."""
        return purge_expired(*self.stores, now)

    def forget_tenant(self, tenant: str) -> dict[str, int]:
        """A shredded tenant's files and jobs, which no key opens any more, deleted."""
        return forget_tenant(*self.stores, tenant)


def build_background(settings: Settings, stores: tuple[FileStore, JobStore, JobInputs], envelope: Envelope,
                     auditor: Auditor, models: ServedModels, policy: PolicyHolder, authorizer: Authorizer,
                     apikeys: ApiKeyRepository, collections: CollectionService, audit_log: AuditLogBackend,
                     busy: Callable[[], int] = lambda: 0, metering: Metering | None = None) -> Background:
    """``stores``: the backend's files, jobs and job inputs; ``busy``: interactive requests in flight (the runner
    lets them go first); ``metering``: batch lines count against their creator's quotas and usage like requests."""
    file_store, job_store, job_inputs = stores
    keep_s = settings.files_expiry_days * 86400.0
    files = FileVault(file_store, envelope, max_bytes=settings.files_max_bytes, keep_s=keep_s,
                      max_tenant_bytes=settings.files_max_tenant_bytes,
                      max_uploads=settings.files_max_concurrent_uploads,
                      max_tenant_uploads=settings.files_max_tenant_uploads,
                      retention_days=lambda tenant: policy.current().scope(tenant).retention_days)
    jobs = JobService(job_store, envelope, auditor, lease_s=settings.jobs_lease_s, poll_s=settings.jobs_poll_s,
                      inflight=settings.jobs_inflight_items, keep_s=keep_s, busy=busy,
                      weight=lambda tenant: policy.current().scope(tenant).scheduling_weight,
                      forget=lambda tenant: forget_jobs(*stores, tenant).jobs)
    jobs.register(BatchKind(files, models, policy, authorizer, apikeys, auditor, max_inputs=settings.max_inputs,
                            metering=metering))
    ingest = Ingest(collections, policy.current, models.default.pipeline.digests, auditor,
                    max_documents=settings.max_documents_per_ingest, max_text_chars=settings.max_text_chars)
    ingest_jobs = IngestJobKind(jobs, ingest, job_inputs, envelope, collections.store.document,
                                collections.store.get_collection, entry_reader(audit_log), auditor,
                                remote=settings.uses_postgres,
                                creator=CreatorCheck(apikeys, authorizer, "documents", "write"))
    jobs.register(ingest_jobs)
    return Background(files, jobs, Batches(jobs, files, models.default.pipeline.detect, policy,
                                              max_lines=settings.batch_max_lines,
                                              max_body_bytes=settings.max_body_bytes,
                                              max_creations=settings.batch_max_concurrent_creations,
                                              max_tenant_creations=settings.batch_max_tenant_creations),
                      ingest, ingest_jobs,
                      stores)
