"""Privacy budgets from the policy: before vectors leave, check the tenant's spend and block or raise sigma.

Only releases the ledger has not seen cost anything (the same text always gets the same noisy vector), so the
check counts the new ones at the sigma that would be used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.policy.loader import ScopePolicy
from gateway.privacy.accountant import PrivacyLedger

MAX_DOUBLINGS = 6  # at most 64x the policy's sigma before giving up and blocking


@dataclass(frozen=True)
class BudgetDecision:
    sigma: float
    raised_from: float | None  # the policy's sigma, when the budget forced a higher one
    exceeded: bool  # True: releasing would exceed the budget even at the highest sigma tried


def check_budget(
    ledger: PrivacyLedger, tenant: str, scope_name: str, scope: ScopePolicy, digests: Sequence[bytes]
) -> BudgetDecision:
    budget = scope.privacy_budget_epsilon
    sigma = scope.noise_sigma
    if budget is None or not digests:
        return BudgetDecision(sigma, None, False)

    def exceeds(s: float) -> bool:
        return s <= 0 or ledger.would_exceed(tenant, scope_name, s, ledger.unseen(tenant, scope_name, s, digests),
                                             budget)

    if not exceeds(sigma):
        return BudgetDecision(sigma, None, False)
    if scope.budget_action == "raise_sigma" and sigma > 0:
        for k in range(1, MAX_DOUBLINGS + 1):
            candidate = sigma * 2**k
            if not exceeds(candidate):
                return BudgetDecision(candidate, sigma, False)
    return BudgetDecision(sigma, None, True)
