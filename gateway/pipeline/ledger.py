"""The privacy ledger use case (``GET /v1/privacy/ledger``): the caller's tenant's spend, worst-case and radius
views, with the budget and the vector transform in force."""

from __future__ import annotations

from gateway.auth.apikeys import Principal
from gateway.pipeline.offload import off_loop
from gateway.pipeline.outcome import Outcome
from gateway.policy.loader import PolicyHolder
from gateway.privacy.accountant import PrivacyLedger


async def read_ledger(principal: Principal, *, ledger: PrivacyLedger, policy: PolicyHolder,
                      transform_version: str) -> Outcome:
    view = (await off_loop(ledger.remote, ledger.view, principal.tenant)).as_dict()  # remote: a network read
    scope = policy.current().scope(principal.tenant)
    view["budget"] = {"epsilon": scope.privacy_budget_epsilon, "on_exceed": scope.budget_action}
    view["transform"] = transform_version
    return Outcome(view, {"count": view["total"]["releases"]})
