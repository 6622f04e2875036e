"""The privacy ledger's interface and its in-memory backend.

The SQL ledgers are ``gateway.backends.sqlite.ledger`` and ``gateway.backends.postgres.ledger``.
The accounting itself (opacus RDP, the worst-case and radius views) lives in ``ledger_base``.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence
from typing import Protocol

from gateway.privacy.ledger_base import (
    DEFAULT_DELTA,
    DEFAULT_RADIUS,
    Counts,
    Fits,
    Group,
    LedgerBase,
    LedgerView,
    Release,
    ScopeView,
    Spend,
    epsilon_radius,
    epsilon_worst_case,
)


class PrivacyLedger(Protocol):
    """Persisted per (tenant, scope). Implementations must be safe to call from several threads."""

    remote: bool  # reads cross a network (PostgreSQL): keep them off the event loop

    def record(self, tenant: str, scope: str, sigma: float, digests: Sequence[bytes]) -> Spend: ...

    def record_many(self, releases: Sequence[Release]) -> list[Spend]: ...

    def view(self, tenant: str) -> LedgerView: ...

    def unseen(self, tenant: str, scope: str, sigma: float, digests: Sequence[bytes]) -> int: ...

    def would_exceed(
        self, tenant: str, scope: str, sigma: float, new_releases: int, budget_epsilon: float
    ) -> bool: ...

    def reserve(
        self, tenant: str, scope: str, sigma: float, digests: Sequence[bytes], budget_epsilon: float
    ) -> Spend | None:
        """Record the releases if the tenant stays within ``budget_epsilon``, in one atomic step; else None."""

    def rename_scope(self, tenant: str, old: str, new: str) -> None:
        """Move ``old``'s releases to ``new`` (a shred replaces collection names by digests; the spend stays)."""


class InMemoryPrivacyLedger(LedgerBase):
    """For tests and single-process development; forgets everything on exit."""

    def __init__(self, *, delta: float = DEFAULT_DELTA, radius: float = DEFAULT_RADIUS) -> None:
        super().__init__(delta=delta, radius=radius)
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str, float], set[bytes]] = defaultdict(set)

    def _insert_new(self, groups: Sequence[Group]) -> list[int]:
        new = []
        with self._lock:
            for tenant, scope, sigma, digests in groups:
                seen = self._seen[(tenant, scope, sigma)]
                before = len(seen)
                seen.update(digests)
                new.append(len(seen) - before)
        return new

    def _known(self, tenant: str, scope: str, sigma: float, digests: Sequence[bytes]) -> int:
        with self._lock:
            seen = self._seen.get((tenant, scope, sigma), set())
            return sum(1 for d in digests if d in seen)

    def _insert_if(self, group: Group, fits: Fits) -> tuple[int, Counts] | None:
        tenant, scope, sigma, digests = group
        with self._lock:
            fresh = set(digests) - self._seen.get((tenant, scope, sigma), set())
            counts = self._counts_locked(tenant)
            if fresh:
                counts.setdefault(scope, {})[sigma] = counts.get(scope, {}).get(sigma, 0) + len(fresh)
            if not fits(counts):
                return None
            self._seen[(tenant, scope, sigma)].update(fresh)
            return len(fresh), counts

    def rename_scope(self, tenant: str, old: str, new: str) -> None:
        with self._lock:
            for key in [k for k in self._seen if k[0] == tenant and k[1] == old]:
                self._seen[(tenant, new, key[2])].update(self._seen.pop(key))

    def _counts(self, tenant: str) -> dict[str, dict[float, int]]:
        with self._lock:
            return self._counts_locked(tenant)

    def _counts_locked(self, tenant: str) -> Counts:
        out: dict[str, dict[float, int]] = defaultdict(dict)
        for (t, scope, sigma), seen in self._seen.items():
            if t == tenant and seen:
                out[scope][sigma] = len(seen)
        return dict(out)


__all__ = [
    "DEFAULT_DELTA",
    "DEFAULT_RADIUS",
    "InMemoryPrivacyLedger",
    "LedgerBase",
    "LedgerView",
    "PrivacyLedger",
    "Release",
    "ScopeView",
    "Spend",
    "epsilon_radius",
    "epsilon_worst_case",
]
