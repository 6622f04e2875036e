"""Quotas of the policy file: tokens per minute, tokens per day and requests per minute, per tenant and per key.

``quotas.tenant`` bounds a tenant's callers together, ``quotas.key`` each of its keys (an API key, or a token's
subject) on its own, and ``quotas.keys.<key id>`` overrides the key limits of one key. ``None`` is no limit. The
counters that enforce them live in ``gateway.limits.quotas``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

#: The limits each of ``quotas.tenant``, ``quotas.key`` and ``quotas.keys.<id>`` may set.
LIMIT_NAMES = ("tokens_per_minute", "tokens_per_day", "requests_per_minute")


@dataclass(frozen=True)
class Limits:
    tokens_per_minute: int | None = None
    tokens_per_day: int | None = None
    requests_per_minute: int | None = None

    def get(self, name: str) -> int | None:
        value: int | None = getattr(self, name)
        return value


@dataclass(frozen=True)
class Quotas:
    tenant: Limits = field(default_factory=Limits)
    key: Limits = field(default_factory=Limits)
    keys: Mapping[str, Mapping[str, int | None]] = field(default_factory=dict)  # key id -> the limits it sets

    def for_key(self, key_id: str) -> Limits:
        """The limits of one key: those ``quotas.keys.<key id>`` sets (``null``: none), over ``quotas.key``'s."""
        own = self.keys.get(key_id)
        return self.key if own is None else replace(self.key, **own)


def merge_quotas(scalars: Mapping[str, Any]) -> Quotas:
    """The quotas from a scope's merged scalars (``quotas.tenant.<limit>``, ``quotas.key.<limit>``,
    ``quotas.keys.<key id>.<limit>``): a narrower layer overrides one limit at a time."""
    tenant = {n: scalars.get(f"quotas.tenant.{n}") for n in LIMIT_NAMES}
    key = {n: scalars.get(f"quotas.key.{n}") for n in LIMIT_NAMES}
    keys: dict[str, dict[str, int | None]] = {}
    for name, value in scalars.items():
        if name.startswith("quotas.keys."):
            key_id, _, limit = name[len("quotas.keys."):].rpartition(".")
            keys.setdefault(key_id, {})[limit] = value
    return Quotas(Limits(**tenant), Limits(**key), keys)
