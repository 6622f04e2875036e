"""The job model and the interfaces of the job core: ``JobStore`` (a backend's table) and ``JobKind`` (the work).

States (a job moves only forward)::

    queued ──> running ──> finalizing ──> completed
       │          │  └──────────────────> failed      (the kind's ``finish`` failed, or the job was invalid)
       └──────────┴──> cancelling ──────> cancelled
    (any active state past its expiry) ─> expired

``queued``, ``running``, ``finalizing`` and ``cancelling`` are active: a runner holding the job's lease moves it on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from gateway.auth.apikeys import ApiKeyRepository, Principal, key_status
from gateway.auth.authz import Authorizer
from gateway.errors import Forbidden, RequestError, Unauthenticated
from gateway.jobs.fairness import Waiting
from gateway.jobs.files import FileStore

ACTIVE_STATES = ("queued", "running", "finalizing", "cancelling")
FINAL_STATES = ("completed", "failed", "cancelled", "expired")


@dataclass(frozen=True)
class Job:
    id: str
    tenant: str
    kind: str
    state: str
    owner: dict[str, Any]  # the creator's principal: key_id, tenant, subject, role, roles, method
    params: dict[str, Any]  # what the kind needs to rebuild its items; never raw text
    total: int
    created_at: float
    expires_at: float
    succeeded: int = 0
    failed: int = 0
    attempts: int = 0  # how many times a runner claimed it (above 1: resumed after a stop or a crash)
    cancel_requested: bool = False
    started_at: float | None = None
    finished_at: float | None = None
    result: dict[str, Any] = field(default_factory=dict)

    # The columns both backends select a job by, in the order ``from_columns`` reads them.
    COLUMNS = ("id, tenant, kind, state, owner, params, total, created_at, expires_at, succeeded, failed, attempts, "
               "cancel_requested, started_at, finished_at, result")

    @classmethod
    def from_columns(cls, row: Sequence[Any]) -> Job:
        return cls(row[0], row[1], row[2], row[3], json.loads(row[4]), json.loads(row[5]), int(row[6]),
                   float(row[7]), float(row[8]), int(row[9]), int(row[10]), int(row[11]), bool(row[12]), row[13],
                   row[14], json.loads(row[15]))

    @property
    def answered(self) -> int:
        return self.succeeded + self.failed

    def principal(self) -> Principal:
        o = self.owner
        return Principal(o["key_id"], o["tenant"], o["subject"], o["role"], tuple(o.get("roles", ())),
                         o.get("method", "api_key"))


def owner_of(principal: Principal) -> dict[str, Any]:
    return {"key_id": principal.key_id, "tenant": principal.tenant, "subject": principal.subject,
            "role": principal.role, "roles": list(principal.roles), "method": principal.method}


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


class JobFailed(Exception):
    """Raised by a kind's ``load`` when the job can never run (its input is gone): the job fails with ``errors``."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("the job cannot run")
        self.errors = errors


@dataclass(frozen=True)
class ItemOutcome:
    """What one item came to: ``ok`` or not, and the kind's payload (sealed before it is stored)."""

    index: int
    ok: bool
    payload: bytes


@dataclass(frozen=True)
class StoredItem:
    index: int
    ok: bool
    sealed: bytes


class JobStore(Protocol):
    """A backend's job table and item table (``backends/sqlite/jobs.py``, ``backends/postgres/jobs.py``).

    Times are seconds since the epoch. Every write that advances a job names the runner (``owner``) that holds its
    lease and does nothing (returns ``None`` or ``False``) when another holds it now."""

    def create(self, job: Job) -> None: ...

    def get(self, tenant: str, job_id: str) -> Job | None: ...

    def list_jobs(self, tenant: str, kind: str, limit: int, after: str | None = None) -> list[Job]:
        """The tenant's jobs of ``kind``, newest first, from the one after ``after`` (an id)."""
        ...

    def claim(self, runner: str, now: float, lease_s: float, kinds: Sequence[str], job_id: str | None = None
              ) -> Job | None:
        """Take the lease of the oldest active job of one of ``kinds`` that no live lease holds (of ``job_id`` only,
        when given). Counts an attempt, unless the job was parked (``park``): everything it ran was stored then."""
        ...

    def waiting(self, now: float, kinds: Sequence[str]) -> list[Waiting]:
        """The active jobs of ``kinds`` that no live lease holds, oldest first (what a runner may claim now)."""
        ...

    def park(self, job_id: str, runner: str) -> bool:
        """Give back the lease between two slices (every item run so far is stored), so that the job waits its turn
        and any runner may take it on without counting an attempt; ``False`` if ``runner`` did not hold it."""
        ...

    def record(self, job_id: str, runner: str, now: float, lease_s: float, items: Sequence[StoredItem]) -> Job | None:
        """Store item outcomes (an index already stored is kept as it was), update the counters and renew the lease,
        in one transaction; the job as it now is, or ``None`` if ``runner`` lost the lease."""
        ...

    def items(self, job_id: str) -> list[StoredItem]:
        """Every stored outcome, by index."""
        ...

    def move(self, job_id: str, runner: str | None, state: str, now: float,
             result: dict[str, Any] | None = None) -> bool:
        """Set the state (and the result); a final state releases the lease. ``runner`` None: only from ``queued``
        (a job refused before it ran)."""
        ...

    def cancel(self, tenant: str, job_id: str) -> Job | None:
        """Ask an active job to stop (``cancelling``); the job as it now is, ``None`` if there is none."""
        ...

    def purge(self, now: float) -> list[Job]:
        """Delete the jobs (and their items) whose expiry has passed; the jobs deleted."""
        ...

    def purge_tenant(self, tenant: str) -> list[Job]:
        """Delete every job (and its items) of ``tenant`` (a shred); the jobs deleted."""
        ...


class JobKind(Protocol):
    """One kind of work; see ``gateway.jobs`` for how to add one."""

    name: str

    async def load(self, job: Job) -> Sequence[Any]:
        """The job's items, in a fixed order (called again at each resumption)."""
        ...

    async def run(self, job: Job, items: Sequence[tuple[int, Any]]) -> list[ItemOutcome]:
        """One outcome per (index, item), in order; an item's own refusal is an outcome, never an exception."""
        ...

    async def finish(self, job: Job, outcomes: Sequence[ItemOutcome], state: str) -> dict[str, Any]:
        """The job's result from every stored outcome, once all are in (``completed``) or on ``cancelled``."""
        ...


class JobInputs(Protocol):
    """A job's staged input, sealed by the caller (``backends/sqlite/job_inputs.py``, ``backends/postgres/...``)."""

    def put(self, job_id: str, tenant: str, sealed: bytes) -> None: ...

    def get(self, tenant: str, job_id: str) -> bytes | None: ...

    def delete(self, tenant: str, job_id: str) -> None: ...


def purge_expired(files: FileStore, jobs: JobStore, inputs: JobInputs, now: float) -> dict[str, int]:
    """Files and jobs past their expiry as of ``now`` (the retention sweep's time), with the staged inputs of the
    jobs purged (an ingest job that expired before it finished): what was purged, counted."""
    purged = jobs.purge(now)
    for job in purged:
        inputs.delete(job.tenant, job.id)
    return {"files": files.purge(now), "jobs": len(purged)}


def forget_tenant(files: FileStore, jobs: JobStore, inputs: JobInputs, tenant: str) -> dict[str, int]:
    """After a shred: the tenant's files, jobs and staged inputs, sealed under its destroyed keys, are deleted (left,
    every list of its files or batches failed to open for ``files_expiry_days``, new ones included)."""
    purged = forget_jobs(files, jobs, inputs, tenant)
    return {"files": purged.files, "jobs": len(purged.jobs)}


@dataclass(frozen=True)
class Forgotten:
    """What ``forget_jobs`` deleted: the jobs (for their audit entries) and how many files."""

    jobs: list[Job]
    files: int


def forget_jobs(files: FileStore, jobs: JobStore, inputs: JobInputs, tenant: str) -> Forgotten:
    """``forget_tenant``, with the jobs deleted: the runner audits the end of each when it completes a shred that
    stopped before this step (a crash between the keys' destruction and the jobs' deletion)."""
    purged = jobs.purge_tenant(tenant)
    for job in purged:
        inputs.delete(job.tenant, job.id)
    return Forgotten(purged, files.purge_tenant(tenant))


class CreatorCheck:
    """Whether a job's creator may still run its items, asked before each group: an API key still active (not
    revoked, not expired) and Casbin still allowing ``act`` on ``obj``. A key revoked or a role removed while a job
    runs stops the rest of its items, each answered with the refusal."""

    def __init__(self, apikeys: ApiKeyRepository, authorizer: Authorizer, obj: str, act: str) -> None:
        self._apikeys, self._authorizer, self._obj, self._act = apikeys, authorizer, obj, act

    def refusal(self, principal: Principal) -> RequestError | None:
        if principal.method == "api_key":
            record = self._apikeys.find(principal.key_id)
            if record is None or key_status(record, datetime.now(UTC)) != "active":
                return Unauthenticated("the job creator's API key is no longer active")
        if not self._authorizer.allowed(principal, self._obj, self._act):
            return Forbidden(f"role '{principal.role}' may not {self._act} {self._obj}")
        return None
