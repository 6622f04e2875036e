"""Which audit entries a reader sees: one tenant's, or (platform auditors) every tenant's.

A tenant's auditor sees the entries of its own tenant and the platform-wide events that govern every
tenant's processing (gateway start and stop, policy reloads, model registration and retirement, KEK
rotation): those carry the tenant ``*`` (or none) and name no tenant's data. Every other entry
(another tenant's, an unauthenticated request's) is withheld: its leaf hash is all that reader gets, which
is enough to recompute the Merkle root and check a proof. The rule lives here, in the standalone ``audit``
package, so the gateway's routes and an auditor's offline report scope the log the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PLATFORM_TENANT = "*"
PLATFORM_WIDE_EVENTS = frozenset({
    "gateway.start", "gateway.stop", "policy.reload", "model.register", "model.retire", "key.rotate", "key.rewrap",
})


def parse_leaf(leaf: bytes) -> dict[str, Any]:
    """One leaf as a dict; anything that is not a JSON object becomes an empty dict (visible to no tenant)."""
    try:
        obj = json.loads(leaf)
    except ValueError:
        return {}
    return obj if isinstance(obj, dict) else {}


def platform_wide(entry: Mapping[str, Any]) -> bool:
    """An event about the whole gateway rather than one tenant's data."""
    return entry.get("event") in PLATFORM_WIDE_EVENTS and entry.get("tenant", PLATFORM_TENANT) == PLATFORM_TENANT


@dataclass(frozen=True)
class TenantScope:
    """``tenant`` None: every entry (a platform auditor, or an auditor holding the whole export)."""

    tenant: str | None = None

    @property
    def label(self) -> str:
        return "all tenants" if self.tenant is None else f"tenant {self.tenant}"

    def sees(self, entry: Mapping[str, Any]) -> bool:
        if self.tenant is None:
            return True
        return entry.get("tenant") == self.tenant or platform_wide(entry)

    def sees_leaf(self, leaf: bytes) -> bool:
        return self.tenant is None or self.sees(parse_leaf(leaf))


EVERYTHING = TenantScope()
