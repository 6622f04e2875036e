"""Which waiting job the runner serves next: weighted round-robin across tenants, round-robin across a tenant's jobs.

A job runs in slices (one group of items each, checkpointed); between slices the runner asks ``FairTurns.pick``
which job takes the next one. Tenants share the runner by stride scheduling: each tenant has a *pass*, a slice
advances its tenant's pass by ``1 / weight`` (the policy's ``scheduling.weight``, 1 by default), and the tenant
with the lowest pass goes next, so over any stretch of contention a tenant of weight 3 gets three slices for each
one of a tenant of weight 1. A tenant that had nothing waiting starts again at the lowest pass of the tenants
waiting now (no credit banked while idle, no debt kept); at equal passes the tenant served least recently goes
first, so a newcomer's first slice comes right after the slice in progress. Within a tenant, the job served least
recently goes next (a new job first), so one tenant's large job does not hold its own small ones back either.

Pure and in memory (one per runner): on PostgreSQL each replica shares its own slices fairly among the jobs it can
claim; the lease still keeps two replicas off one job.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Waiting:
    """An active job that no other runner holds, as ``JobStore.waiting`` lists it."""

    id: str
    tenant: str
    created_at: float
    attempts: int


class FairTurns:
    def __init__(self, weight: Callable[[str], float] = lambda tenant: 1.0) -> None:
        self._weight = weight
        self._pass: dict[str, float] = {}  # tenants with work waiting at the last pick
        self._last_served: dict[str, int] = {}  # job id, or tenant -> the turn it was last served
        self._turns = itertools.count(1)

    def pick(self, waiting: Sequence[Waiting]) -> Waiting | None:
        """The job to serve next among ``waiting`` (``None`` when it is empty)."""
        if not waiting:
            self._pass.clear()
            self._last_served.clear()
            return None
        tenants = {w.tenant for w in waiting}
        for gone in [t for t in self._pass if t not in tenants]:
            del self._pass[gone]
        keys = {w.id for w in waiting} | {_tenant_key(t) for t in tenants}
        for gone_key in [k for k in self._last_served if k not in keys]:
            del self._last_served[gone_key]
        floor = min(self._pass.values(), default=0.0)
        for tenant in tenants:
            self._pass.setdefault(tenant, floor)
        tenant = min(tenants, key=lambda t: (self._pass[t], self._last_served.get(_tenant_key(t), 0), t))
        mine = [w for w in waiting if w.tenant == tenant]
        return min(mine, key=lambda w: (self._last_served.get(w.id, 0), w.created_at, w.id))

    def served(self, job: Waiting) -> None:
        """Charge one slice to ``job`` and its tenant."""
        weight = self._weight(job.tenant)
        self._pass[job.tenant] = self._pass.get(job.tenant, 0.0) + 1.0 / (weight if weight > 0 else 1.0)
        turn = next(self._turns)
        self._last_served[job.id] = self._last_served[_tenant_key(job.tenant)] = turn


def _tenant_key(tenant: str) -> str:
    return "\x00tenant:" + tenant  # never a job id
