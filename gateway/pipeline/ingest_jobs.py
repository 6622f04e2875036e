"""Ingest jobs: ``POST /v1/collections/{name}/documents`` with ``Prefer: respond-async`` (RFC 7240), run in the
background by the job core (``gateway.jobs``) through the ingest use case (``pipeline.ingest``), a document at a time.

``submit`` validates the request exactly as a synchronous ingest does, stages its documents sealed under the
tenant's data key (``JobInputs``: ciphertext only, never text in clear on disk) and queues the job. The job kind
(``IngestJobKind``) reopens them at each (re)start and ingests each document as the job's creator, with its own
``document.ingest`` entry whose ``request_id`` is ``<job id>:<document index>``: the audit log names the job every
stored chunk came from.

Exactly once after ``kill -9``: the job core stores outcomes a group at a time, so a crash can leave documents
that were stored after the group's last durable outcome. Before ingesting a document the kind looks at what the
store holds for it: chunks whose audit entry carries this job's request id for this document were committed by an
earlier attempt (chunks and their commit record share one transaction), so the document is answered from them and
not ingested again. A document whose entry was written but whose chunks never committed is ingested again; the
reconciler (``auditing.reconcile``) marks the orphaned entry ``write.unfinished``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any, Protocol

from audit.backend import AuditLogBackend
from gateway.auditing.auditor import RequestContext
from gateway.auth.apikeys import Principal
from gateway.crypto.envelope import RecordContext
from gateway.errors import Conflict, DetectionTooCostly, NotFound, RequestError
from gateway.jobs.base import CreatorCheck, ItemOutcome, Job, JobInputs
from gateway.pipeline.collections import DocumentIn
from gateway.pipeline.ingest import EVENT, AuditPort, Ingest, IngestRequest, IngestResult
from gateway.pipeline.offload import off_loop
from gateway.pipeline.retrying import waiting_out
from gateway.store.base import Collection, StoredChunk

KIND = "ingest"
ROUTE = "POST /v1/collections/{name}/documents"
RETRIES_TOO_COSTLY = 1  # a document whose screening ran past pii_budget_s is tried again once (a busy host)
_ENDED = ("completed", "failed", "expired")  # no longer cancellable (a cancelled one answers as it is)
_SEALED_AS = "_ingest_jobs"  # the "collection" bound into the staged input's ciphertext: no collection bears it


class Sealer(Protocol):
    def encrypt(self, ctx: RecordContext, plaintext: bytes) -> bytes: ...

    def decrypt(self, ctx: RecordContext, blob: bytes) -> bytes: ...


class JobsPort(Protocol):
    """What this module needs of ``gateway.jobs.runner.JobService``."""

    async def create(self, principal: Principal, kind: str, job_id: str, params: dict[str, Any], total: int
                     ) -> Job: ...

    async def get(self, tenant: str, kind: str, job_id: str) -> Job: ...

    async def cancel(self, tenant: str, kind: str, job_id: str) -> Job: ...

    def open(self, job: Job, item: Any) -> bytes: ...

    async def yield_to_interactive(self) -> bool: ...

    store: Any  # the JobStore: its items(job_id)


Documents = Callable[[str, str, str], list[StoredChunk]]  # Store.document(tenant, collection, document id)
GetCollection = Callable[[str, str], Collection]
EntryAt = Callable[[int], dict[str, Any] | None]  # the audit entry at an index, None if there is none


def entry_reader(log: AuditLogBackend) -> EntryAt:
    def entry_at(index: int) -> dict[str, Any] | None:
        leaves = log.entries(index, index + 1) if 0 <= index < log.size() else []
        return json.loads(leaves[0]) if leaves else None

    return entry_at


def request_id(job_id: str, index: int) -> str:
    return f"{job_id}:{index}"


class IngestJobKind:
    """The ``JobKind`` of ingest jobs (see ``gateway.jobs``), and the use cases that create and describe them."""

    name = KIND

    def __init__(self, jobs: JobsPort, ingest: Ingest, inputs: JobInputs, sealer: Sealer, documents: Documents,
                 collection: GetCollection, entry_at: EntryAt, auditor: AuditPort, *, remote: bool,
                 creator: CreatorCheck | None = None) -> None:
        self._jobs, self._ingest, self._inputs, self._sealer = jobs, ingest, inputs, sealer
        self._auditor, self._creator = auditor, creator
        self._documents, self._collection, self._entry_at = documents, collection, entry_at
        self._remote = remote  # PostgreSQL: every store read crosses the network, so off the loop

    # -- the use cases ------------------------------------------------------------------------------------------

    async def submit(self, request: IngestRequest, principal: Principal) -> Job:
        """Stage the (already validated) documents sealed and queue the job; audited as ``job.created``. Document
        ids and metadata keys are screened first, with the synchronous ingest's 400: the job shows its ids."""
        await self._ingest.screen_names(request, principal)
        job_id = "ingestjob_" + uuid.uuid4().hex
        payload = json.dumps([asdict(d) for d in request.documents]).encode("utf-8")
        sealed = self._sealer.encrypt(self._context(principal.tenant, job_id), payload)
        await off_loop(True, self._inputs.put, job_id, principal.tenant, sealed)
        return await self._jobs.create(principal, KIND, job_id, {"collection": request.collection.name},
                                       len(request.documents))

    async def cancel(self, tenant: str, job_id: str) -> dict[str, Any]:
        """Stop the job after the documents in flight (those stored stay stored); ``NotFound`` as ``describe``. A
        job that ended otherwise (completed, failed, expired) is 409, as a batch's: a 200 ``completed`` would read
        as if the cancel had been accepted."""
        try:
            job = await self._jobs.cancel(tenant, KIND, job_id)  # leaves an ended job as it was
        except NotFound:
            raise NotFound("no such job", param="job_id") from None
        if job.state in _ENDED:
            raise Conflict(f"Cannot cancel a job with status '{job.state}'.",
                           detail={"audit": {"job_id": job.id, "status_text": job.state}})
        return await self.describe(tenant, job_id)

    async def describe(self, tenant: str, job_id: str) -> dict[str, Any]:
        """The job as ``GET /v1/jobs/{id}`` shows it; ``NotFound`` for another tenant's job or none."""
        try:
            job = await self._jobs.get(tenant, KIND, job_id)
        except NotFound:
            raise NotFound("no such job", param="job_id") from None
        stored = await off_loop(True, self._jobs.store.items, job.id)
        answers = sorted((json.loads(self._jobs.open(job, item)) | {"index": item.index} for item in stored),
                         key=lambda a: int(a["index"]))
        failures = [{k: a[k] for k in ("index", "document_id", "code", "detail") if k in a}
                    for a in answers if a.get("status") != "stored"]
        return {
            "id": job.id, "object": "job", "type": KIND, "status": job.state,
            "collection": job.params.get("collection"),
            "created_at": int(job.created_at), "started_at": _seconds(job.started_at),
            "finished_at": _seconds(job.finished_at), "expires_at": int(job.expires_at),
            "attempts": job.attempts,
            "progress": {"documents_total": job.total, "documents_done": job.answered,
                         "documents_stored": job.succeeded, "documents_failed": job.failed,
                         "chunks_done": sum(int(a.get("chunks", 0)) for a in answers)},
            "failures": failures,
            "result": job.result or None,
        }

    # -- the job kind -------------------------------------------------------------------------------------------

    async def load(self, job: Job) -> Sequence[DocumentIn]:
        sealed = await off_loop(True, self._inputs.get, job.tenant, job.id)
        if sealed is None:  # finished (its input deleted) or purged: nothing left to run
            return []
        raw = json.loads(self._sealer.decrypt(self._context(job.tenant, job.id), sealed))
        return [DocumentIn(d["id"], d["text"], d.get("metadata") or {}) for d in raw]

    async def run(self, job: Job, items: Sequence[tuple[int, Any]]) -> list[ItemOutcome]:
        principal = job.principal()
        try:
            collection = await off_loop(self._remote, self._collection, job.tenant, str(job.params["collection"]))
        except NotFound as exc:  # deleted while the job ran: every document left fails with its reason
            return [_outcome(n, {"document_id": d.id, "status": "failed", "code": exc.code, "detail": exc.message})
                    for n, d in items]
        refusal = None if self._creator is None else await off_loop(True, self._creator.refusal, principal)
        if refusal is not None:  # its key revoked or its role removed since: the rest fails with the reason
            return [_outcome(n, await self._refused(job, n, d, collection, principal, refusal)) for n, d in items]
        out: list[ItemOutcome] = []
        for position, (index, doc) in enumerate(items):  # one document at a time, behind interactive requests
            if position:  # the runner waited before the group; a document takes seconds, so wait between them too
                await self._jobs.yield_to_interactive()
                if not await self._still_there(job):  # shredded meanwhile: store nothing more for the tenant
                    out += [_outcome(n, {"document_id": d.id, "status": "failed", "code": "job_forgotten",
                                         "detail": "the job was deleted while it ran"}) for n, d in items[position:]]
                    break
            answer = await self._committed(job, index, doc.id, collection.name)
            if answer is None:
                answer = await self._ingest_one(job, index, doc, collection, principal)
            out.append(_outcome(index, answer))
        return out

    async def _still_there(self, job: Job) -> bool:
        try:
            await self._jobs.get(job.tenant, job.kind, job.id)
        except NotFound:
            return False
        return True

    async def finish(self, job: Job, outcomes: Sequence[ItemOutcome], state: str) -> dict[str, Any]:
        answers = [json.loads(o.payload) for o in outcomes]
        await off_loop(True, self._inputs.delete, job.tenant, job.id)  # the staged text is not kept past the job
        return {"documents_stored": sum(1 for a in answers if a.get("status") == "stored"),
                "documents_failed": sum(1 for a in answers if a.get("status") != "stored"),
                "chunks": sum(int(a.get("chunks", 0)) for a in answers)}

    # -- one document -------------------------------------------------------------------------------------------

    async def _ingest_one(self, job: Job, index: int, doc: DocumentIn, collection: Collection,
                          principal: Principal) -> dict[str, Any]:
        async def ingest() -> IngestResult:
            return await self._ingest(IngestRequest(collection, (doc,)), principal, _context(job, index, principal))

        for attempt in range(1 + RETRIES_TOO_COSTLY):
            try:  # a transient refusal (a full queue, a PII worker lost mid-batch) is waited out first
                result = await waiting_out(ingest)
                break
            except RequestError as exc:  # refused (the privacy budget, a screening past its time): that document
                if isinstance(exc, DetectionTooCostly) and attempt < RETRIES_TOO_COSTLY:
                    continue  # the host may have been busy: once more, with a fresh budget
                return await self._refused(job, index, doc, collection, principal, exc)
        outcome = result.outcomes[0]
        if outcome.status == "stored":
            return {"document_id": doc.id, "status": "stored", "chunks": outcome.chunks,
                    "audit_index": result.audit_index}
        return {"document_id": doc.id, "status": outcome.status, "code": "pii_blocked",
                "detail": ", ".join(outcome.blocked_types), "audit_index": result.audit_index}

    async def _refused(self, job: Job, index: int, doc: DocumentIn, collection: Collection, principal: Principal,
                       exc: RequestError) -> dict[str, Any]:
        """A document refused: audited as the guard records a synchronous refusal (its event, decision, status and
        code), answered with the code."""
        event, decision = exc.audited_as(EVENT)
        await self._auditor.record(event, _context(job, index, principal), decision, status=exc.status,
                                   code=exc.code, collection=collection.name)
        # The document ran alone, as documents[0]: its detail names it by its index in the job's request.
        detail = exc.message.replace("documents[0]", f"documents[{index}]")
        return {"document_id": doc.id, "status": "failed", "code": exc.code, "detail": detail}

    async def _committed(self, job: Job, index: int, doc_id: str, collection: str) -> dict[str, Any] | None:
        """The document's answer if an earlier attempt of this job stored it (see the module's docstring)."""
        if job.attempts <= 1:
            return None  # the first attempt: nothing of this job can be stored yet
        try:
            chunks = await off_loop(True, self._documents, job.tenant, collection, doc_id)
        except NotFound:
            return None
        indexes = {c.audit_index for c in chunks if c.audit_index is not None}
        if len(indexes) != 1:
            return None
        audit_index = indexes.pop()
        entry = await off_loop(True, self._entry_at, audit_index)
        if entry is None or entry.get("request_id") != request_id(job.id, index):
            return None
        return {"document_id": doc_id, "status": "stored", "chunks": len(chunks), "audit_index": audit_index}

    def _context(self, tenant: str, job_id: str) -> RecordContext:
        return RecordContext(tenant, _SEALED_AS, job_id, "1")


def _context(job: Job, index: int, principal: Principal) -> RequestContext:
    return RequestContext(request_id=request_id(job.id, index), route=ROUTE, tenant=principal.tenant,
                          subject=principal.subject, key_id=principal.key_id, role=principal.role,
                          auth=None if principal.method == "api_key" else principal.method)


def _outcome(index: int, answer: dict[str, Any]) -> ItemOutcome:
    return ItemOutcome(index, answer.get("status") == "stored", json.dumps(answer).encode("utf-8"))


def _seconds(t: float | None) -> int | None:
    return None if t is None else int(t)
