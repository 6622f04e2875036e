"""Privacy budgets from the policy: before vectors leave, reserve them in the tenant's ledger, or block or raise sigma.

Only releases the ledger has not seen cost anything (the same text always gets the same noisy vector), so the
reservation counts the new ones at the sigma that would be used. Checking and recording are one atomic step of
the ledger (``reserve``): as two steps, concurrent requests each passed the check before any of them was recorded
(20 at once spent five times a budget that had room for 4).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.embedding.specs import DEFAULT_MODEL
from gateway.policy.loader import ScopePolicy
from gateway.privacy.accountant import PrivacyLedger
from gateway.privacy.ledger_base import Spend

MAX_DOUBLINGS = 6  # at most 64x the policy's sigma before giving up and blocking


def release_ids(model_ref: str, digests: Sequence[bytes]) -> list[bytes]:
    """What the ledger records for each vector: its content digest bound to the model (``name@version``) that made
    it. The same text through another model is another release and is charged: on the bare content digest a tenant
    whose budget was spent got every text it had already released again, from each other model, for nothing.

    The packaged default model keeps the bare digest, as every ledger recorded it before (its repeats stay free
    across the upgrade); each other model's ids are SHA-256 outputs, which no content digest equals."""
    if model_ref == DEFAULT_MODEL.ref:
        return [bytes(d) for d in digests]
    prefix = b"gateway-release/v1\x00" + model_ref.encode() + b"\x00"
    return [hashlib.sha256(prefix + bytes(d)).digest() for d in digests]


@dataclass(frozen=True)
class BudgetDecision:
    sigma: float
    raised_from: float | None  # the policy's sigma, when the budget forced a higher one
    exceeded: bool  # True: releasing would exceed the budget even at the highest sigma tried
    spend: Spend | None = None  # the releases already recorded by the reservation (None: not enforced, charge later)


def reserve_budget(
    ledger: PrivacyLedger, tenant: str, scope_name: str, scope: ScopePolicy, digests: Sequence[bytes]
) -> BudgetDecision:
    """Under an enforced budget, record the releases at the first sigma that fits (the policy's, then doubled where
    it says ``raise_sigma``); the caller charges nothing more. Recorded before the vectors are made, so a request
    that fails afterwards has spent them: the conservative side, and its retry is free (the same vectors)."""
    budget = scope.privacy_budget_epsilon
    sigma = scope.noise_sigma
    if budget is None or not digests:
        return BudgetDecision(sigma, None, False)
    if sigma > 0 and (spend := ledger.reserve(tenant, scope_name, sigma, digests, budget)) is not None:
        return BudgetDecision(sigma, None, False, spend)
    if scope.budget_action == "raise_sigma" and sigma > 0:
        for k in range(1, MAX_DOUBLINGS + 1):
            candidate = sigma * 2**k
            if (spend := ledger.reserve(tenant, scope_name, candidate, digests, budget)) is not None:
                return BudgetDecision(candidate, sigma, False, spend)
    return BudgetDecision(sigma, None, True)
