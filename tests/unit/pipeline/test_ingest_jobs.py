"""The ingest job kind with fakes: staging sealed, exactly once across a crash inside a group, per-document
failures (the real gateway is driven in tests/integration/test_ingest_jobs.py)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field, replace
from typing import Any, cast

import pytest

from gateway.auditing.auditor import RequestContext
from gateway.auth.apikeys import Principal
from gateway.crypto.envelope import RecordContext
from gateway.errors import (
    BadRequest,
    Conflict,
    DetectionTooCostly,
    NotFound,
    PrivacyBudgetExceeded,
    RequestError,
    Unauthenticated,
    Unavailable,
)
from gateway.jobs.base import Job, StoredItem, owner_of
from gateway.pipeline import retrying
from gateway.pipeline.collections import DocumentIn, IngestOutcome
from gateway.pipeline.ingest import IngestRequest, IngestResult
from gateway.pipeline.ingest_jobs import IngestJobKind
from gateway.store.base import Collection, StoredChunk

WRITER = Principal("k1", "acme", "loader", "writer", ("writer",), "api_key")
KB = Collection("acme", "kb", "all-MiniLM-L6-v2", "1.0.0", 384, "flat", True)


class XorSealer:
    """Not encryption: a reversible scramble bound to its context, enough to show the staged bytes are not text."""

    def encrypt(self, ctx: RecordContext, plaintext: bytes) -> bytes:
        return bytes(b ^ 0x5A for b in plaintext) + ctx.record_id.encode()

    def decrypt(self, ctx: RecordContext, blob: bytes) -> bytes:
        assert blob.endswith(ctx.record_id.encode())
        return bytes(b ^ 0x5A for b in blob[: -len(ctx.record_id)])


@dataclass
class FakeJobs:
    created: list[Job] = field(default_factory=list)
    store: Any = None
    yields: int = 0

    async def create(self, principal: Principal, kind: str, job_id: str, params: dict[str, Any], total: int) -> Job:
        job = Job(job_id, principal.tenant, kind, "queued", owner_of(principal), params, total, 0.0, 1.0)
        self.created.append(job)
        return job

    forget_at_yield: int | None = None  # the job's rows are deleted (its tenant shredded) at this yield

    async def get(self, tenant: str, kind: str, job_id: str) -> Job:
        for job in self.created:
            if (job.tenant, job.kind, job.id) == (tenant, kind, job_id):
                return job
        raise NotFound("none")

    async def cancel(self, tenant: str, kind: str, job_id: str) -> Job:
        return await self.get(tenant, kind, job_id)  # as the job service: an ended job is left as it was

    def open(self, job: Job, item: StoredItem) -> bytes:
        return item.sealed

    async def yield_to_interactive(self) -> bool:
        self.yields += 1
        if self.yields == self.forget_at_yield:
            self.created.clear()
        return True


@dataclass
class FakeIngest:
    """Stores each document as two chunks under a fresh audit index; ``refuse`` ids raise, ``block`` ids block."""

    entries: dict[int, dict[str, Any]]
    chunks: dict[str, list[StoredChunk]]
    refuse: set[str] = field(default_factory=set)
    block: set[str] = field(default_factory=set)
    too_costly: dict[str, int] = field(default_factory=dict)  # id -> how many attempts run past the budget
    lost: dict[str, int] = field(default_factory=dict)  # id -> how many attempts lose their PII worker
    bad_text: set[str] = field(default_factory=set)  # ids whose text the ingest refuses as a 400
    pii_ids: set[str] = field(default_factory=set)  # ids the screening of names refuses
    calls: list[str] = field(default_factory=list)

    async def screen_names(self, request: IngestRequest, principal: Principal) -> None:
        for i, doc in enumerate(request.documents):
            if doc.id in self.pii_ids:
                raise BadRequest(f"documents[{i}].id carries PII (US_SSN)", param=f"documents[{i}].id")

    async def __call__(self, request: IngestRequest, principal: Principal, ctx: RequestContext) -> IngestResult:
        doc = request.documents[0]
        self.calls.append(doc.id)
        if doc.id in self.bad_text:
            raise BadRequest("documents[0].text is refused by the policy", param="documents[0].text")
        if doc.id in self.refuse:
            raise PrivacyBudgetExceeded("the tenant's privacy budget is spent")
        if self.lost.get(doc.id, 0) > 0:
            self.lost[doc.id] -= 1
            raise Unavailable("a PII detection worker stopped while screening this batch", retry_after=1.0)
        if self.too_costly.get(doc.id, 0) > 0:
            self.too_costly[doc.id] -= 1
            raise DetectionTooCostly("the text could not be screened for PII within the detection budget")
        index = len(self.entries)
        self.entries[index] = {"request_id": ctx.request_id, "route": ctx.route}
        if doc.id in self.block:
            return IngestResult("kb", [IngestOutcome(doc.id, "blocked", blocked_types=["US_SSN"])], {}, "block", {},
                                index)
        self.chunks[doc.id] = [_chunk(doc.id, n, index) for n in range(2)]
        return IngestResult("kb", [IngestOutcome(doc.id, "stored", 2)], {}, "allow", {}, index)


def _chunk(doc_id: str, n: int, audit_index: int) -> StoredChunk:
    return StoredChunk(f"r-{doc_id}-{n}", doc_id, n, (0, 1), None, {}, {}, 1, "", audit_index)


class Harness:
    def __init__(self, collection_exists: bool = True, creator: Any = None) -> None:
        self.inputs: dict[str, bytes] = {}
        self.entries: dict[int, dict[str, Any]] = {}
        self.chunks: dict[str, list[StoredChunk]] = {}
        self.ingest = FakeIngest(self.entries, self.chunks)
        self.jobs = FakeJobs()
        self.exists = collection_exists
        self.kind = IngestJobKind(cast(Any, self.jobs), cast(Any, self.ingest), cast(Any, self), XorSealer(),
                                  self.document, self.collection, self.entries.get, self, remote=False,
                                  creator=creator)
        self.recorded: list[tuple[str, str, dict[str, Any]]] = []

    # AuditPort
    async def record(self, event: str, ctx: RequestContext | None, decision: str, **fields: Any) -> int | None:
        self.recorded.append((event, decision, {"request_id": ctx.request_id if ctx else None, **fields}))
        return len(self.recorded)

    # JobInputs
    def put(self, job_id: str, tenant: str, sealed: bytes) -> None:
        self.inputs[job_id] = sealed

    def get(self, tenant: str, job_id: str) -> bytes | None:
        return self.inputs.get(job_id)

    def delete(self, tenant: str, job_id: str) -> None:
        self.inputs.pop(job_id, None)

    def document(self, tenant: str, collection: str, doc_id: str) -> list[StoredChunk]:
        if doc_id not in self.chunks:
            raise NotFound("no document")
        return self.chunks[doc_id]

    def collection(self, tenant: str, name: str) -> Collection:
        if not self.exists:
            raise NotFound(f"collection {name!r} does not exist")
        return KB

    def submit(self, ids: list[str]) -> Job:
        docs = tuple(DocumentIn(i, f"the text of {i}", {}) for i in ids)
        return asyncio.run(self.kind.submit(IngestRequest(KB, docs), WRITER))


def _answers(outcomes: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(o.payload) for o in outcomes]


def test_when_a_job_is_submitted_then_its_documents_are_staged_sealed_and_its_params_hold_no_text() -> None:
    h = Harness()
    job = h.submit(["a", "b"])
    assert job.total == 2 and job.params == {"collection": "kb"} and job.kind == "ingest"
    assert b"the text of" not in h.inputs[job.id]
    loaded = asyncio.run(h.kind.load(job))
    assert [(d.id, d.text) for d in loaded] == [("a", "the text of a"), ("b", "the text of b")]


def test_when_a_crash_left_documents_stored_after_the_last_durable_outcome_then_they_are_not_ingested_again() -> None:
    h = Harness()
    job = h.submit(["a", "b", "c"])
    docs = list(asyncio.run(h.kind.load(job)))
    asyncio.run(h.kind.run(job, [(0, docs[0])]))  # stored; then the process died before its outcome was recorded
    h.chunks["b"] = [_chunk("b", 0, 99)]  # "b" stored by an earlier, unrelated request: it must be ingested
    h.entries[99] = {"request_id": "someone-else"}
    h.ingest.calls.clear()
    resumed = Job(**{**job.__dict__, "attempts": 2})
    answers = _answers(asyncio.run(h.kind.run(resumed, list(enumerate(docs)))))
    assert h.ingest.calls == ["b", "c"]  # "a" answered from the store
    assert answers[0] == {"document_id": "a", "status": "stored", "chunks": 2, "audit_index": 0}
    assert [a["status"] for a in answers] == ["stored"] * 3


def test_when_a_document_is_blocked_or_refused_then_only_it_fails_with_its_code() -> None:
    h = Harness()
    h.ingest.block, h.ingest.refuse = {"ssn"}, {"broke"}
    job = h.submit(["ok", "ssn", "broke"])
    docs = asyncio.run(h.kind.load(job))
    outcomes = asyncio.run(h.kind.run(job, list(enumerate(docs))))
    assert [o.ok for o in outcomes] == [True, False, False]
    answers = _answers(outcomes)
    assert (answers[1]["code"], answers[1]["detail"]) == ("pii_blocked", "US_SSN")
    assert answers[2]["code"] == "privacy_budget_exceeded"
    assert h.entries[1]["request_id"] == f"{job.id}:1"  # the entry names the job and the document's place
    assert h.jobs.yields == 2  # between the documents of the group, not before the first (the runner's)
    assert h.recorded == [("privacy.budget_exceeded", "block", {"request_id": f"{job.id}:2", "status": 403,
                                                              "code": "privacy_budget_exceeded", "collection": "kb"})]


def test_when_a_document_is_refused_inside_the_job_then_its_detail_names_its_index_in_the_request() -> None:
    h = Harness()
    h.ingest.bad_text = {"bad"}
    job = h.submit(["a", "b", "bad"])
    answers = _answers(asyncio.run(h.kind.run(job, list(enumerate(asyncio.run(h.kind.load(job)))))))
    assert answers[2]["code"] == "bad_request" and answers[2]["detail"].startswith("documents[2].text")


def test_when_a_document_id_carries_pii_then_no_job_is_created() -> None:
    h = Harness()
    h.ingest.pii_ids = {"emp-078-05-1120"}
    try:
        h.submit(["ok", "emp-078-05-1120"])
    except BadRequest as exc:
        assert exc.param == "documents[1].id" and "078-05-1120" not in exc.message
    else:
        raise AssertionError("a job was created for a document id carrying PII")
    assert h.ingest.calls == []


def test_when_screening_runs_past_its_budget_then_the_document_is_tried_once_more_and_then_fails_audited() -> None:
    h = Harness()
    h.ingest.too_costly = {"busy": 1, "costly": 2}
    job = h.submit(["busy", "costly"])
    answers = _answers(asyncio.run(h.kind.run(job, list(enumerate(asyncio.run(h.kind.load(job)))))))
    assert h.ingest.calls == ["busy", "busy", "costly", "costly"]
    assert answers[0]["status"] == "stored" and answers[1]["code"] == "pii_screening_too_costly"
    assert [(e, d, f["code"]) for e, d, f in h.recorded] == [("document.ingest", "deny",
                                                              "pii_screening_too_costly")]


def test_when_a_documents_pii_worker_is_lost_then_it_is_tried_again_and_stored(monkeypatch: Any) -> None:
    monkeypatch.setattr(retrying, "WAITS_S", (0.01, 0.02))
    h = Harness()
    h.ingest.lost = {"unlucky": 2}
    job = h.submit(["unlucky"])
    answers = _answers(asyncio.run(h.kind.run(job, list(enumerate(asyncio.run(h.kind.load(job)))))))
    assert h.ingest.calls == ["unlucky"] * 3
    assert answers[0]["status"] == "stored" and h.recorded == []


def test_when_the_collection_was_deleted_then_every_document_left_fails_not_found() -> None:
    h = Harness()
    job = h.submit(["a", "b"])
    docs = asyncio.run(h.kind.load(job))
    h.exists = False
    answers = _answers(asyncio.run(h.kind.run(job, list(enumerate(docs)))))
    assert [a["code"] for a in answers] == ["not_found", "not_found"] and h.ingest.calls == []


def test_when_the_tenant_is_shredded_between_documents_then_none_after_is_ingested() -> None:
    """fixes17a #1: a shredded tenant's job stored the rest of its slice (seconds per document) after the shred."""
    h = Harness()
    job = h.submit(["a", "b", "c"])
    docs = asyncio.run(h.kind.load(job))
    h.jobs.forget_at_yield = 1  # the shred lands while "a" is ingested
    answers = _answers(asyncio.run(h.kind.run(job, list(enumerate(docs)))))
    assert h.ingest.calls == ["a"]
    assert [a["status"] for a in answers] == ["stored", "failed", "failed"]
    assert [a.get("code") for a in answers[1:]] == ["job_forgotten", "job_forgotten"]


def test_when_a_job_finishes_then_its_staged_input_is_deleted_and_the_result_counts_it() -> None:
    h = Harness()
    h.ingest.block = {"b"}
    job = h.submit(["a", "b"])
    outcomes = asyncio.run(h.kind.run(job, list(enumerate(asyncio.run(h.kind.load(job))))))
    result = asyncio.run(h.kind.finish(job, outcomes, "completed"))
    assert result == {"documents_stored": 1, "documents_failed": 1, "chunks": 2}
    assert h.inputs == {} and asyncio.run(h.kind.load(job)) == []


class Revocable:
    """A creator check whose answer a test changes (the real one reads the key and Casbin: gateway.jobs.base)."""

    refused: RequestError | None = None

    def refusal(self, principal: Principal) -> RequestError | None:
        return self.refused


def test_when_the_creators_key_is_revoked_mid_job_then_the_rest_fails_with_the_refusal_audited() -> None:
    creator = Revocable()
    h = Harness(creator=creator)
    job = h.submit(["a", "b", "c"])
    docs = list(asyncio.run(h.kind.load(job)))
    first = _answers(asyncio.run(h.kind.run(job, [(0, docs[0])])))
    creator.refused = Unauthenticated("the job creator's API key is no longer active")
    rest = _answers(asyncio.run(h.kind.run(job, [(1, docs[1]), (2, docs[2])])))
    assert first[0]["status"] == "stored" and h.ingest.calls == ["a"]  # nothing ingested after the revocation
    assert [(a["document_id"], a["code"]) for a in rest] == [("b", "invalid_api_key"), ("c", "invalid_api_key")]
    assert [(e, d, f["request_id"], f["code"]) for e, d, f in h.recorded] == [
        ("auth.failure", "deny", f"{job.id}:1", "invalid_api_key"),
        ("auth.failure", "deny", f"{job.id}:2", "invalid_api_key")]


@pytest.mark.parametrize("state", ["completed", "failed", "expired"])
def test_when_an_ended_job_is_cancelled_then_409_names_its_status(state: str) -> None:
    # A 200 with the job as it was read as a cancel accepted (the batch route answered the same; both are 409 now).
    h = Harness()
    job = h.submit(["a"])
    h.jobs.created[0] = replace(job, state=state)
    with pytest.raises(Conflict, match=f"Cannot cancel a job with status '{state}'"):
        asyncio.run(h.kind.cancel("acme", job.id))
