"""Formal (epsilon, delta) accounting of noisy releases, and the per-tenant privacy ledger.

Each distinct (tenant, scope, sigma, content digest) is one release of the Gaussian mechanism on a unit
vector; releases compose, and opacus's ``RDPAccountant`` (sample rate 1, one step per release) reports the
bound. Two views:

* worst case: any two texts, L2 sensitivity 2 (the diameter of the unit sphere);
* radius r: texts whose clean embeddings lie within r of each other are (eps(sigma / r), delta)-
  indistinguishable.

At noise levels that keep search useful both epsilons are very large (millions): the formal guarantee is
honest bookkeeping, and the protection is shown by measured attacks (docs/privacy.md). A repeat of a release
costs nothing, because keyed noise makes the repeat byte-identical to the first answer.

Scope is a collection name or ``"embeddings"`` for ``/v1/embeddings``. Budgets are checked on the tenant's
total across scopes by default (the same person may appear in any collection).
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from opacus.accountants import RDPAccountant
from opacus.accountants.analysis import rdp as privacy_analysis

DEFAULT_DELTA = 1e-5
DEFAULT_RADIUS = 0.25
WORST_CASE_SENSITIVITY = 2.0

Bound = Literal["worst_case", "radius"]
BudgetScope = Literal["tenant", "scope"]
SigmaCounts = Mapping[float, int]


@lru_cache(maxsize=1024)
def _rdp_per_release(noise_multiplier: float) -> npt.NDArray[np.float64]:
    """RDP of one Gaussian release at each of opacus's default orders (sample rate 1: no subsampling)."""
    rdp = privacy_analysis.compute_rdp(
        q=1.0, noise_multiplier=noise_multiplier, steps=1, orders=RDPAccountant.DEFAULT_ALPHAS
    )
    return np.asarray(rdp, dtype=np.float64)


def _epsilon(history: Iterable[tuple[float, int]], sensitivity: float, delta: float) -> float:
    """Compose releases (sigma, count) at L2 ``sensitivity``; inf if any release carried no noise.

    The same arithmetic as ``RDPAccountant.get_epsilon`` (RDP adds up over releases, and a release's RDP at sample
    rate 1 does not depend on how many came before), with the per-release RDP computed once per sigma: the
    gateway charges the ledger on every request.
    """
    steps = [(sigma, count) for sigma, count in history if count > 0]
    if not steps:
        return 0.0
    if any(sigma <= 0 for sigma, _ in steps):
        return math.inf
    rdp = sum(count * _rdp_per_release(sigma / sensitivity) for sigma, count in steps)
    with warnings.catch_warnings():
        # opacus warns that the optimal order is its smallest alpha: expected at these noise levels.
        warnings.simplefilter("ignore", UserWarning)
        eps, _ = privacy_analysis.get_privacy_spent(orders=RDPAccountant.DEFAULT_ALPHAS, rdp=rdp, delta=delta)
    return float(eps)


def epsilon_worst_case(sigma: float, releases: int, delta: float = DEFAULT_DELTA) -> float:
    """Epsilon after ``releases`` noisy unit vectors, for any two inputs (L2 sensitivity 2)."""
    return _epsilon([(sigma, releases)], WORST_CASE_SENSITIVITY, delta)


def epsilon_radius(sigma: float, radius: float, releases: int, delta: float = DEFAULT_DELTA) -> float:
    """Epsilon for inputs whose clean embeddings are within ``radius`` (sensitivity r)."""
    if radius <= 0:
        raise ValueError("radius must be > 0")
    return _epsilon([(sigma, releases)], radius, delta)


@dataclass(frozen=True)
class Release:
    """One call's releases: the content digests of the vectors it hands out at ``sigma``."""

    tenant: str
    scope: str
    sigma: float
    digests: Sequence[bytes]


# (tenant, scope, sigma, distinct digests): what a backend stores for one Release
Group = tuple[str, str, float, list[bytes]]
Counts = dict[str, dict[float, int]]  # scope -> sigma -> distinct releases, of one tenant
Fits = Callable[[Counts], bool]


@dataclass(frozen=True)
class Spend:
    """What one ``record`` call cost, and where the (tenant, scope) stands after it."""

    epsilon_worst_case: float
    epsilon_radius: float
    releases_new: int
    releases_total: int
    # The tenant's distinct releases over all its scopes after this call: audited, so that a ledger found with fewer
    # at a later start is known to have been reset or rolled back (gateway.auditing.ledger_check).
    tenant_releases: int = 0


@dataclass(frozen=True)
class ScopeView:
    releases: int
    epsilon_worst_case: float
    epsilon_radius: float
    releases_by_sigma: dict[float, int] = field(default_factory=dict)


@dataclass(frozen=True)
class LedgerView:
    """Both views per scope and composed over all of a tenant's scopes."""

    tenant: str
    delta: float
    radius: float
    scopes: dict[str, ScopeView]
    total: ScopeView

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready; an unbounded epsilon (a release without noise) is rendered as None."""

        def scope(view: ScopeView) -> dict[str, Any]:
            return {
                "releases": view.releases,
                "epsilon_worst_case": _finite_or_none(view.epsilon_worst_case),
                "epsilon_radius": _finite_or_none(view.epsilon_radius),
                "releases_by_sigma": {repr(s): c for s, c in sorted(view.releases_by_sigma.items())},
            }

        return {
            "tenant": self.tenant,
            "delta": self.delta,
            "radius": self.radius,
            "sensitivity_worst_case": WORST_CASE_SENSITIVITY,
            "scopes": {name: scope(v) for name, v in sorted(self.scopes.items())},
            "total": scope(self.total),
        }


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


class LedgerBase:
    """The arithmetic shared by every backend; a backend supplies storage of distinct releases."""

    remote = False  # True where a read is a network round trip (PostgreSQL)

    def __init__(self, *, delta: float = DEFAULT_DELTA, radius: float = DEFAULT_RADIUS) -> None:
        if not 0 < delta < 1:
            raise ValueError("delta must be in (0, 1)")
        if radius <= 0:
            raise ValueError("radius must be > 0")
        self.delta = delta
        self.radius = radius

    # Storage hooks -----------------------------------------------------------------------------------------
    def _insert_new(self, groups: Sequence[Group]) -> list[int]:
        """Store each group's digests not recorded before, all groups in one transaction; how many were new."""
        raise NotImplementedError

    def _counts(self, tenant: str) -> dict[str, dict[float, int]]:
        """scope -> sigma -> number of distinct releases."""
        raise NotImplementedError

    def _known(self, tenant: str, scope: str, sigma: float, digests: Sequence[bytes]) -> int:
        """How many of ``digests`` (distinct) are already recorded for (tenant, scope, sigma)."""
        raise NotImplementedError

    def _insert_if(self, group: Group, fits: Fits) -> tuple[int, Counts] | None:
        """Store the group's new digests and return (how many were new, the tenant's counts after) if ``fits`` takes
        those counts, else store nothing and return None; atomic against every other write of the tenant's spend."""
        raise NotImplementedError

    def rename_scope(self, tenant: str, old: str, new: str) -> None:
        """Move ``old``'s releases to ``new`` (a shred replaces collection names by random labels)."""
        raise NotImplementedError

    def unseen(self, tenant: str, scope: str, sigma: float, digests: Sequence[bytes]) -> int:
        """Releases that ``record`` would charge: distinct digests not yet released at ``sigma``."""
        _check_sigma(sigma)
        unique = list(dict.fromkeys(bytes(d) for d in digests))
        return len(unique) - (self._known(tenant, scope, float(sigma), unique) if unique else 0)

    # Public API --------------------------------------------------------------------------------------------
    def record(self, tenant: str, scope: str, sigma: float, digests: Sequence[bytes]) -> Spend:
        """Charge only releases not seen before for (tenant, scope, sigma, digest); repeats spend nothing."""
        return self.record_many([Release(tenant, scope, sigma, digests)])[0]

    def record_many(self, releases: Sequence[Release]) -> list[Spend]:
        """``record`` for several calls in one transaction (the gateway's ledger batcher groups concurrent
        requests): each gets its own count of new releases (a release shared with an earlier call of the group is
        that call's), and where its (tenant, scope) stands after the group."""
        for release in releases:
            _check_sigma(release.sigma)
        # Stored in one order on every replica (groups by key, digests sorted), so that two transactions never take
        # the same rows' locks in opposite orders; the sort is stable, so calls with one key keep their order.
        groups = [(r.tenant, r.scope, float(r.sigma), sorted(set(bytes(d) for d in r.digests))) for r in releases]
        todo = sorted((i for i, g in enumerate(groups) if g[3]), key=lambda i: groups[i][:3])
        new = dict(zip(todo, self._insert_new([groups[i] for i in todo]) if todo else [], strict=True))
        counts = {tenant: self._counts(tenant) for tenant in {r.tenant for r in releases}}
        standing: dict[tuple[str, str], tuple[float, float, int]] = {}
        spends = []
        for i, release in enumerate(releases):
            key = (release.tenant, release.scope)
            if key not in standing:
                history = counts[release.tenant].get(release.scope, {})
                standing[key] = (_epsilon(history.items(), WORST_CASE_SENSITIVITY, self.delta),
                                 _epsilon(history.items(), self.radius, self.delta), sum(history.values()))
            worst, radius, total = standing[key]
            spends.append(Spend(worst, radius, new.get(i, 0), total, _total(counts[release.tenant])))
        return spends

    def reserve(
        self, tenant: str, scope: str, sigma: float, digests: Sequence[bytes], budget_epsilon: float
    ) -> Spend | None:
        """``record``, only if the tenant's worst-case epsilon over all its scopes stays within ``budget_epsilon``
        afterwards (None: nothing recorded). Check and record are one step: checked apart, concurrent requests
        each passed the check before any was recorded, and together spent far past the budget."""
        _check_sigma(sigma)
        group: Group = (tenant, scope, float(sigma), sorted(set(bytes(d) for d in digests)))

        def fits(counts: Counts) -> bool:
            return _epsilon(_composed(counts).items(), WORST_CASE_SENSITIVITY, self.delta) <= budget_epsilon

        done = self._insert_if(group, fits)
        if done is None:
            return None
        new, counts = done
        history = counts.get(scope, {})
        return Spend(_epsilon(history.items(), WORST_CASE_SENSITIVITY, self.delta),
                     _epsilon(history.items(), self.radius, self.delta), new, sum(history.values()), _total(counts))

    def view(self, tenant: str) -> LedgerView:
        per_scope = self._counts(tenant)
        total: dict[float, int] = defaultdict(int)
        for counts in per_scope.values():
            for sigma, count in counts.items():
                total[sigma] += count
        return LedgerView(
            tenant=tenant,
            delta=self.delta,
            radius=self.radius,
            scopes={name: self._scope_view(counts) for name, counts in per_scope.items()},
            total=self._scope_view(dict(total)),
        )

    def would_exceed(
        self,
        tenant: str,
        scope: str,
        sigma: float,
        new_releases: int,
        budget_epsilon: float,
        *,
        bound: Bound = "worst_case",
        per: BudgetScope = "tenant",
    ) -> bool:
        """True if ``new_releases`` more releases at ``sigma`` would take epsilon past ``budget_epsilon``.

        Callers pass the count of releases not yet in the ledger (repeats are free). ``per="tenant"`` composes
        over all the tenant's scopes; ``per="scope"`` over ``scope`` only.
        """
        _check_sigma(sigma)
        if new_releases < 0:
            raise ValueError("new_releases must be >= 0")
        per_scope = self._counts(tenant)
        pools = [per_scope.get(scope, {})] if per == "scope" else list(per_scope.values())
        history: dict[float, int] = defaultdict(int)
        for counts in pools:
            for s, c in counts.items():
                history[s] += c
        history[float(sigma)] += new_releases
        sensitivity = WORST_CASE_SENSITIVITY if bound == "worst_case" else self.radius
        return _epsilon(history.items(), sensitivity, self.delta) > budget_epsilon

    def _scope_view(self, counts: dict[float, int]) -> ScopeView:
        return ScopeView(
            releases=sum(counts.values()),
            epsilon_worst_case=_epsilon(counts.items(), WORST_CASE_SENSITIVITY, self.delta),
            epsilon_radius=_epsilon(counts.items(), self.radius, self.delta),
            releases_by_sigma=dict(counts),
        )


def _composed(counts: Counts) -> dict[float, int]:
    total: dict[float, int] = defaultdict(int)
    for per_sigma in counts.values():
        for sigma, count in per_sigma.items():
            total[sigma] += count
    return total


def _total(counts: Counts) -> int:
    return sum(sum(per_sigma.values()) for per_sigma in counts.values())


def _check_sigma(sigma: float) -> None:
    if sigma < 0 or not math.isfinite(sigma):
        raise ValueError("sigma must be a finite number >= 0")


def counts_by_scope(rows: Iterable[Sequence[Any]]) -> dict[str, dict[float, int]]:
    """(scope, sigma, count) rows as ``LedgerBase._counts`` returns them (both SQL ledgers read such rows)."""
    out: dict[str, dict[float, int]] = defaultdict(dict)
    for scope, sigma, count in rows:
        out[str(scope)][float(sigma)] = int(count)
    return dict(out)
