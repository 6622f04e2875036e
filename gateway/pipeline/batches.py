"""The batch use case (OpenAI's Batch API, endpoint ``/v1/embeddings``) and the job kind that runs its lines.

``Batches`` creates, reads, lists and cancels batches; ``BatchKind`` is the ``gateway.jobs`` kind that answers a
batch's lines in the background. Each line takes the whole governed path of ``POST /v1/embeddings`` as the batch's
creator: the creator's API key must still be active, Casbin must still let it create embeddings, and the line goes
through ``gateway.pipeline.embed.embed`` (PII detection, policy, embedding, protection, privacy ledger). A refused
line (a 422 ``pii_blocked``, a 400 body) is a line of the error file, never a lost line or a failed batch. Each group
of lines is audited in one ``batch.lines`` entry naming the batch and, per line, its custom_id digest, status and
input digest.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from gateway.auditing.auditor import Auditor, RequestContext
from gateway.auth.apikeys import ApiKeyRepository, Principal
from gateway.auth.authz import Authorizer
from gateway.embedding.served import ServedModels
from gateway.errors import (
    BadRequest,
    BatchExpired,
    Conflict,
    DetectionTooCostly,
    NotFound,
    RequestError,
    Unavailable,
)
from gateway.jobs.base import CreatorCheck, ItemOutcome, Job, JobFailed
from gateway.jobs.files import FileVault
from gateway.jobs.runner import JobService
from gateway.limits.concurrency import Slots
from gateway.pii.fields import Detect, pii_types, screen_labels, screen_name
from gateway.pipeline.batch_lines import ENDPOINT, MAX_ERRORS, BatchLine, error_line, ok_line, parse_input
from gateway.pipeline.embed import EmbedRequest, embed, parse_request
from gateway.pipeline.metering import Metering
from gateway.pipeline.outcome import Outcome
from gateway.pipeline.retrying import waiting_out
from gateway.policy.loader import PolicyHolder, ScopePolicy

log = logging.getLogger(__name__)
KIND = "batch"
WINDOW = "24h"
WINDOW_S = 24 * 3600
MAX_METADATA = 16
SCREEN_SLICE = 512  # custom_ids per detection request
MAX_ID_CHARS = 128  # ours are under 64; a longer one is refused, never echoed
_STATUS = {"queued": "validating", "running": "in_progress"}  # the job states OpenAI names otherwise
_ENDED = ("completed", "failed", "expired")  # no longer cancellable (a cancelled one answers as it is)


def batch_object(job: Job, metadata: dict[str, str] | None) -> dict[str, Any]:
    """OpenAI's batch object for a job of kind ``batch``."""
    status = _STATUS.get(job.state, job.state)
    if status == "completed" and job.result.get("expired"):
        status = "expired"  # the window ended first: the lines left are batch_expired lines of the error file
    ended = None if job.finished_at is None else int(job.finished_at)
    errors = job.result.get("errors")
    return {
        "id": job.id, "object": "batch", "endpoint": ENDPOINT,
        "errors": None if not errors else {"object": "list", "data": errors},
        "input_file_id": job.params["input_file_id"], "completion_window": WINDOW, "status": status,
        "output_file_id": job.result.get("output_file_id"), "error_file_id": job.result.get("error_file_id"),
        "created_at": int(job.created_at), "in_progress_at": None if job.started_at is None else int(job.started_at),
        "expires_at": int(job.created_at) + WINDOW_S,
        "finalizing_at": ended if status == "completed" else None,
        "completed_at": ended if status == "completed" else None, "failed_at": ended if status == "failed" else None,
        "expired_at": ended if status == "expired" else None,
        "cancelling_at": None, "cancelled_at": ended if status == "cancelled" else None,
        "request_counts": {"total": job.total, "completed": job.succeeded, "failed": job.failed},
        "metadata": metadata,
    }


class Batches:
    """The routes' use cases: create, retrieve, list, cancel; and the screening of an upload's file name.

    What a caller names here is stored and shown to every reader of the tenant (the file object, the batch object,
    the output files): the file name, ``metadata`` and each ``custom_id`` go through the tenant's PII policy once,
    at upload or creation (``gateway.pii.fields``), never at each read."""

    def __init__(self, jobs: JobService, files: FileVault, detect: Detect, policy: PolicyHolder, *, max_lines: int,
                 max_body_bytes: int, max_creations: int = 2, max_tenant_creations: int = 1) -> None:
        self._jobs, self._files, self._max_lines = jobs, files, max_lines
        self._detect, self._policy, self._max_body_bytes = detect, policy, max_body_bytes
        # Each creation holds its input file (sealed, up to files_max_bytes) while it validates: bounded per process
        # and per tenant (its keys share the count), 429 at once past either, as uploads are.
        self.creations = Slots(max_creations, max_tenant_creations, "batch creations",
                               "batch_max_concurrent_creations", "batch_max_tenant_creations")

    async def screen_filename(self, principal: Principal, filename: str) -> None:
        """Refuse (400, the name never echoed) an upload's file name that carries PII."""
        await screen_name(self._detect, filename, self._policy.current().scope(principal.tenant), "file",
                          "a file name")

    async def create(self, principal: Principal, body: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """The batch object and the audit fields. An invalid input file makes a ``failed`` batch with ``errors``."""
        if not isinstance(body, dict):
            raise BadRequest("the request body must be a JSON object")
        file_id = body.get("input_file_id")
        if not isinstance(file_id, str) or not file_id or len(file_id) > MAX_ID_CHARS:
            raise BadRequest(f"'input_file_id' is required: a file id of at most {MAX_ID_CHARS} characters",
                             param="input_file_id")
        if body.get("endpoint") != ENDPOINT:
            raise BadRequest(f"'endpoint' must be {ENDPOINT}: the only endpoint batches serve here", param="endpoint")
        if body.get("completion_window") != WINDOW:
            raise BadRequest(f"'completion_window' must be {WINDOW}", param="completion_window")
        metadata = _metadata(body.get("metadata"))
        scope = self._policy.current().scope(principal.tenant)
        if metadata:
            await screen_labels(self._detect, metadata, scope, "metadata")
        info = await self._files.describe(principal.tenant, file_id)  # another tenant's file: 404
        if info.purpose != "batch":
            raise BadRequest("the input file's purpose must be 'batch'", param="input_file_id")
        lines, errors = await self._validated(principal.tenant, file_id)
        errors = await self._screen_custom_ids(lines, errors, scope)
        job_id = "batch_" + uuid.uuid4().hex
        params: dict[str, Any] = {"input_file_id": file_id, "metadata": None}
        if metadata is not None:
            params["metadata"] = await asyncio.to_thread(self._files.seal_note, principal.tenant, job_id,
                                                         json.dumps(metadata).encode())
        job = await self._jobs.create(principal, KIND, job_id, params, len(lines) if not errors else 0,
                                      failed={"errors": errors} if errors else None)
        audit = {"batch_id": job.id, "count": job.total, "status_text": batch_object(job, None)["status"],
                 "errors": [e["code"] for e in errors] or None}
        return batch_object(job, metadata), audit

    async def _validated(self, tenant: str, file_id: str) -> tuple[list[BatchLine], list[dict[str, Any]]]:
        """``_validate`` in a worker thread under one of the creation slots (held until the thread ends)."""
        self.creations.take(tenant)
        try:
            return await self.creations.run(tenant, self._validate, tenant, file_id)
        finally:
            self.creations.give(tenant)

    def _validate(self, tenant: str, file_id: str) -> tuple[list[BatchLine], list[dict[str, Any]]]:
        """The input file checked as its chunks are opened: the ids kept, never the file or its decoded lines."""
        return parse_input(self._files.chunks(tenant, file_id), self._max_lines, self._max_body_bytes,
                           self._max_lines, keep_bodies=False)  # as many inputs in all as lines (OpenAI's)

    async def _screen_custom_ids(self, lines: Sequence[BatchLine], errors: list[dict[str, Any]],
                                 scope: ScopePolicy) -> list[dict[str, Any]]:
        """The validation errors with one per line whose custom_id carries PII (its types, never the value)."""
        if errors:  # the batch fails anyway: no detection spent on it
            return errors
        found: list[list[str]] = []
        for start in range(0, len(lines), SCREEN_SLICE):  # slices: a big file never fills the shared detect queue
            part = lines[start:start + SCREEN_SLICE]
            try:
                found += await pii_types(self._detect, [line.custom_id for line in part], scope)
            except DetectionTooCostly:  # its message speaks of an input text: here no text was sent to embed
                raise DetectionTooCostly(
                    f"the batch's custom_ids (lines {part[0].line} to {part[-1].line}) "
                    "could not be screened for PII within the detection budget, so the batch was not created; "
                    "use short opaque custom_ids (a counter or a document id, not text), or retry when the gateway "
                    "is less busy", param="custom_id") from None
        flagged = [{"code": "custom_id_pii", "param": "custom_id", "line": line.line,
                    "message": f"line {line.line}: 'custom_id' carries PII ({', '.join(types)}); it is stored and "
                               "shown to every reader: use an opaque identifier"}
                   for line, types in zip(lines, found, strict=True) if types]
        return flagged[:MAX_ERRORS]

    async def retrieve(self, principal: Principal, batch_id: str) -> dict[str, Any]:
        job = await self._jobs.get(principal.tenant, KIND, batch_id)
        return batch_object(job, await self._metadata(job))

    async def cancel(self, principal: Principal, batch_id: str) -> dict[str, Any]:
        """The batch, now ``cancelling`` (or already ``cancelled``); a batch that ended otherwise is 409, as at
        OpenAI: a 200 ``completed`` would read as if the cancel had been accepted."""
        job = await self._jobs.cancel(principal.tenant, KIND, batch_id)  # leaves an ended job as it was
        batch = batch_object(job, await self._metadata(job))
        if batch["status"] in _ENDED:
            raise Conflict(f"Cannot cancel a batch with status '{batch['status']}'.",
                           detail={"audit": {"batch_id": job.id, "status_text": batch["status"]}})
        return batch

    async def listing(self, principal: Principal, limit: int, after: str | None) -> dict[str, Any]:
        jobs = await self._jobs.list_jobs(principal.tenant, KIND, limit + 1, after)
        data = [batch_object(j, await self._metadata(j)) for j in jobs[:limit]]
        return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None, "has_more": len(jobs) > limit}

    async def _metadata(self, job: Job) -> dict[str, str] | None:
        sealed = job.params.get("metadata")
        if sealed is None:
            return None
        opened = await asyncio.to_thread(self._files.open_note, job.tenant, job.id, sealed)
        return dict(json.loads(opened))


def _metadata(raw: Any) -> dict[str, str] | None:
    if raw is None:
        return None
    if (not isinstance(raw, dict) or len(raw) > MAX_METADATA
            or not all(isinstance(k, str) and isinstance(v, str) and len(k) <= 64 and len(v) <= 512
                       for k, v in raw.items())):
        raise BadRequest(f"'metadata' must be an object of at most {MAX_METADATA} string pairs (keys up to 64 "
                         "characters, values up to 512)", param="metadata")
    for key, value in raw.items():  # shown to every reader of the tenant: a blank key or a bidi override misleads
        if (not key.strip() or any(unicodedata.category(c) in ("Cc", "Cf") for c in key)
                or any(unicodedata.category(c) == "Cf" for c in value)):
            raise BadRequest("'metadata' keys must be visible, without control characters, and neither keys nor "
                             "values may hold invisible formatting characters (bidi overrides, zero-width ones)",
                             param="metadata")
    return dict(raw)


class BatchKind:
    """Answers a batch's lines as its creator, through the embeddings use case; writes the output files."""

    name = KIND

    def __init__(self, files: FileVault, models: ServedModels, policy: PolicyHolder,
                 authorizer: Authorizer, apikeys: ApiKeyRepository, auditor: Auditor, *, max_inputs: int,
                 metering: Metering | None = None, clock: Callable[[], float] = time.time) -> None:
        self._files, self._models, self._policy, self._metering = files, models, policy, metering
        self._clock = clock
        self._creator = CreatorCheck(apikeys, authorizer, "embeddings", "create")
        self._auditor, self._max_inputs = auditor, max_inputs

    async def load(self, job: Job) -> Sequence[BatchLine]:
        try:
            lines, _ = await asyncio.to_thread(
                lambda: parse_input(self._files.chunks(job.tenant, job.params["input_file_id"]), max(job.total, 1)))
        except NotFound:
            raise JobFailed([{"code": "input_file_missing", "message": "the input file was deleted before the "
                              "batch finished; the lines answered before are in its output and error files",
                              "param": "input_file_id", "line": None}]) from None
        return lines

    async def run(self, job: Job, items: Sequence[tuple[int, Any]]) -> list[ItemOutcome]:
        principal = job.principal()
        refusal: RequestError | None = None
        if self._clock() >= job.created_at + WINDOW_S:  # the lines left are answered, not run (OpenAI's "expired")
            refusal = BatchExpired("the request could not run before the batch's completion window (24h) ended")
        else:
            refusal = await asyncio.to_thread(self._creator.refusal, principal)
        answered = await asyncio.gather(*(self._line(job, principal, n, line, refusal) for n, line in items))
        outcomes = [outcome for outcome, _ in answered]
        lines = [{"custom_id_digest": self._auditor.digest(job.tenant, line.custom_id), **fields}
                 for (_, line), (_, fields) in zip(items, answered, strict=True)]
        ctx = RequestContext(request_id=uuid.uuid4().hex, route="POST /v1/batches", tenant=principal.tenant,
                             subject=principal.subject, key_id=principal.key_id, role=principal.role,
                             auth=None if principal.method == "api_key" else principal.method)
        blocked = any(f.get("status") == 422 for f in lines)
        await self._auditor.record("batch.lines", ctx, "block" if blocked else "allow", batch_id=job.id,
                                   count=len(items), first_line=items[0][0], lines=lines)
        return outcomes

    async def _line(self, job: Job, principal: Principal, n: int, line: BatchLine,
                    refusal: RequestError | None) -> tuple[ItemOutcome, dict[str, Any]]:
        try:
            if refusal is not None:
                raise refusal
            req = parse_request(line.body, self._max_inputs)
            out = await self._embed(req, principal)
        except RequestError as exc:
            audit = exc.detail.get("audit", {})
            return ItemOutcome(n, False, error_line(job.id, n, line.custom_id, exc)), _fields(exc.status, audit, exc)
        except Exception:  # an answer all the same: the line is never lost, and never retried into a loop
            log.exception("batch line failed unexpectedly")
            internal = Unavailable("internal error; the line was not carried out")
            return (ItemOutcome(n, False, error_line(job.id, n, line.custom_id, internal)),
                    _fields(internal.status, {}, internal))
        return ItemOutcome(n, True, ok_line(job.id, n, line.custom_id, out.body)), _fields(200, out.audit, None)

    async def _embed(self, req: EmbedRequest, principal: Principal) -> Outcome:
        """The embeddings use case; a transient refusal (a full queue: interactive traffic comes first; a short
        quota wait; a PII worker lost mid-batch) is waited out, not answered (``pipeline.retrying``). A quota whose
        Retry-After lies beyond the waits left (a spent daily quota: hours) is answered at once, its 429 line,
        rather than hold the runner for nothing."""
        return await waiting_out(
            lambda: embed(req, principal, models=self._models, policy=self._policy, metering=self._metering))

    async def finish(self, job: Job, outcomes: Sequence[ItemOutcome], state: str) -> dict[str, Any]:
        ok = [o.payload for o in outcomes if o.ok]
        failed = [o.payload for o in outcomes if not o.ok]
        result: dict[str, Any] = {"output_file_id": None, "error_file_id": None}
        if any(b'"code":"batch_expired"' in p for p in failed):
            result["expired"] = True
        for key, payloads, suffix in (("output_file_id", ok, "output"), ("error_file_id", failed, "error")):
            if payloads:
                info = await asyncio.to_thread(
                    self._files.write_lines, job.tenant, "batch_output", f"{job.id}_{suffix}.jsonl", payloads,
                    f"file-{job.id.removeprefix('batch_')}-{suffix}")
                result[key] = info.id
        return result


def _fields(status: int, audit: dict[str, Any], exc: RequestError | None) -> dict[str, Any]:
    """What a line's audit record keeps: its status (and code), input digest, PII summary and model."""
    names = ("input_digest", "pii", "noise_sigma", "policy_version", "count")
    kept: dict[str, Any] = {k: audit[k] for k in names if k in audit}
    if "model" in audit:
        kept["model"] = audit["model"].get("name") if isinstance(audit["model"], dict) else audit["model"]
    kept["status"] = status
    if exc is not None:
        kept["code"] = exc.code
    return kept

