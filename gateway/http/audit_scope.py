"""The audit scope of a caller: its own tenant, or every tenant for a ``platform-auditor``.

Reading every tenant's entries is a Casbin grant of its own (object ``platform-audit``, action ``read``),
which ``policy/policy.csv`` gives only to the role ``platform-auditor`` in the domain ``platform``; the
matcher keeps wildcard rules (an admin's ``*``) from reaching that object, so no tenant admin gets it.
"""

from __future__ import annotations

from audit.report_scope import TenantScope
from gateway.auth.apikeys import Principal
from gateway.auth.authz import Authorizer

PLATFORM_OBJ, PLATFORM_ACT = "platform-audit", "read"


def scope_of(authorizer: Authorizer, principal: Principal) -> TenantScope:
    """Every tenant for a principal granted ``platform-audit read``; its own tenant for anyone else."""
    if authorizer.allowed(principal, PLATFORM_OBJ, PLATFORM_ACT):
        return TenantScope(None)
    return TenantScope(principal.tenant)
