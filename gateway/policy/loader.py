"""Schema and loader of the gateway policy file (``policy/gateway.yaml``).

The file is data only; this module turns it into frozen objects and refuses anything it does not understand,
naming the file and line (unknown keys, bad actions, thresholds outside [0, 1], bad regexes, negative sigma).
It fails closed: an empty file, or one without ``defaults.pii.entities``, is rejected. The policy's version is
the SHA-256 of the file's bytes, so every audit entry can name exactly the policy that decided it.

Layering: ``defaults`` <- ``tenants.T`` <- ``tenants.T.collections.C``. Mappings merge key by key (a tenant
can change one entity's action), allow lists and deny-list terms accumulate, scalars override.
Every key accepted here is documented in ``docs/policy.md`` (a test checks it).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gateway.errors import PolicyError
from gateway.observability.logs import Vetted, VettedName
from gateway.policy.located import Located, load_located
from gateway.policy.quotas import Quotas, merge_quotas

_log = logging.getLogger(__name__)

Action = Literal["block", "redact", "pseudonymize", "allow"]
ACTIONS: frozenset[str] = frozenset({"block", "redact", "pseudonymize", "allow"})
VALIDATORS: frozenset[str] = frozenset({"luhn", "mod97", "none"})

#: Entity types the built-in detector can find; custom recognizers add their own.
BUILTIN_ENTITIES: frozenset[str] = frozenset(
    {
        "PERSON", "LOCATION", "NRP", "ORGANIZATION", "DATE_TIME",
        "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "URL",
        "US_SSN", "US_BANK_NUMBER", "US_PASSPORT", "US_DRIVER_LICENSE", "US_ITIN", "CRYPTO",
        "SWIFT_CODE", "UK_NHS", "UK_NINO", "DATE_OF_BIRTH",
    }
)  # fmt: skip

#: The keys each section accepts; docs/policy.md documents every one of them.
SCOPE_KEYS = frozenset({"pii", "noise", "retain_text", "retention_days", "rate_limit", "privacy_budget", "drift",
                        "scheduling", "quotas"})
PII_KEYS = frozenset({"threshold", "entities", "allow_list", "deny_list", "metadata_free_text"})
ENTITY_KEYS = frozenset({"action", "threshold"})
RECOGNIZER_KEYS = frozenset({"name", "entity", "patterns", "context", "validator"})
PATTERN_KEYS = frozenset({"regex", "score"})
TOP_KEYS = frozenset({"version", "defaults", "recognizers", "tenants", "phone_regions"})
#: The regions whose phone numbers the detector reads, first listed first (``phone_regions`` in the file).
DEFAULT_PHONE_REGIONS: tuple[str, ...] = ("US", "GB", "DE", "FR", "IN", "CA")
TENANT_KEYS = SCOPE_KEYS | {"collections"}
#: What a collection may set: quotas bound callers (tenants and keys), not collections.
COLLECTION_KEYS = SCOPE_KEYS - {"quotas"}
SUB_KEYS: Mapping[str, frozenset[str]] = {
    "noise": frozenset({"sigma"}),
    "rate_limit": frozenset({"requests_per_minute"}),
    "scheduling": frozenset({"weight"}),
    "quotas": frozenset({"tenant", "key", "keys"}),
    "privacy_budget": frozenset({"epsilon", "on_exceed"}),
    "drift": frozenset({"centroid_shift", "mean_distance", "outlier_share"}),
}


@dataclass(frozen=True)
class EntityRule:
    action: Action
    threshold: float


@dataclass(frozen=True)
class CustomRecognizerSpec:
    name: str
    entity: str
    patterns: tuple[tuple[str, float], ...]  # (regex, score)
    context: tuple[str, ...] = ()
    validator: str | None = None  # "luhn", "mod97" or None


@dataclass(frozen=True)
class DriftThresholds:
    centroid_shift: float = 0.15
    mean_distance: float = 0.25
    outlier_share: float = 0.05


@dataclass(frozen=True)
class ScopePolicy:
    """The effective policy for one (tenant, collection or None) after layering."""

    entities: Mapping[str, EntityRule]
    default_threshold: float = 0.5
    allow_list: tuple[str, ...] = ()
    deny_list: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    metadata_free_text: tuple[str, ...] = ()  # metadata fields decided like text; any PII in another refuses it
    noise_sigma: float = 0.01
    retain_text: bool = True
    retention_days: int | None = None  # None: kept until deleted; else purged by the retention sweep
    rate_limit_per_minute: int | None = None
    scheduling_weight: float = 1.0  # the tenant's share of each batch and of the queue (gateway.pipeline.batching)
    privacy_budget_epsilon: float | None = None
    budget_action: Literal["block", "raise_sigma"] = "block"
    drift: DriftThresholds = field(default_factory=DriftThresholds)
    quotas: Quotas = field(default_factory=Quotas)  # per tenant and per key (gateway.limits.quotas)


@dataclass
class _Layer:
    """One level of the file (defaults, a tenant or a collection) before layering."""

    threshold: float | None = None
    entities: dict[str, tuple[Action, float | None]] = field(default_factory=dict)
    allow_list: list[str] = field(default_factory=list)
    deny_list: dict[str, list[str]] = field(default_factory=dict)
    metadata_free_text: list[str] = field(default_factory=list)
    scalars: dict[str, Any] = field(default_factory=dict)


class GatewayPolicy:
    """A loaded, validated policy; immutable once built."""

    def __init__(
        self,
        *,
        version: str,
        recognizers: tuple[CustomRecognizerSpec, ...],
        defaults: _Layer,
        tenants: Mapping[str, tuple[_Layer, Mapping[str, _Layer]]],
        source: str = "<policy>",
        phone_regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS,
    ) -> None:
        self.version = version
        self.recognizers = recognizers
        self.phone_regions = phone_regions
        self.source = source
        self._defaults = defaults
        self._tenants = tenants
        self._cache: dict[tuple[str, str | None], ScopePolicy] = {}

    def scope(self, tenant: str, collection: str | None = None) -> ScopePolicy:
        """Effective policy: defaults <- tenant <- collection (unknown names fall back a level)."""
        key = (tenant, collection)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        layers = [self._defaults]
        tenant_entry = self._tenants.get(tenant)
        if tenant_entry is not None:
            layers.append(tenant_entry[0])
            if collection is not None and collection in tenant_entry[1]:
                layers.append(tenant_entry[1][collection])
        result = _merge(layers)
        self._cache[key] = result
        return result

    def all_scopes(self) -> list[tuple[str | None, str | None, ScopePolicy]]:
        """Every scope the file names, defaults first (tenant None means the defaults)."""
        out: list[tuple[str | None, str | None, ScopePolicy]] = [(None, None, _merge([self._defaults]))]
        for tenant, (_, collections) in self._tenants.items():
            out.append((tenant, None, self.scope(tenant)))
            out.extend((tenant, name, self.scope(tenant, name)) for name in collections)
        return out

    def entity_types(self) -> frozenset[str]:
        """Every entity type any scope lists, so the detector loads only what some scope needs."""
        return frozenset(t for _, _, s in self.all_scopes() for t in s.entities)


def _merge(layers: list[_Layer]) -> ScopePolicy:
    threshold = 0.5
    raw: dict[str, tuple[Action, float | None]] = {}
    allow: list[str] = []
    free: list[str] = []
    deny: dict[str, list[str]] = {}
    scalars: dict[str, Any] = {}
    for layer in layers:
        threshold = layer.threshold if layer.threshold is not None else threshold
        for etype, (action, own) in layer.entities.items():
            # A narrower scope that changes only the action keeps the threshold set above it.
            inherited = raw[etype][1] if etype in raw else None
            raw[etype] = (action, own if own is not None else inherited)
        allow.extend(a for a in layer.allow_list if a not in allow)
        free.extend(f for f in layer.metadata_free_text if f not in free)
        for etype, terms in layer.deny_list.items():
            deny.setdefault(etype, []).extend(t for t in terms if t not in deny.get(etype, []))
        scalars.update(layer.scalars)
    entities = {e: EntityRule(a, t if t is not None else threshold) for e, (a, t) in raw.items()}
    drift_fields = {k[6:]: v for k, v in scalars.items() if k.startswith("drift.")}
    return ScopePolicy(
        entities=entities,
        default_threshold=threshold,
        allow_list=tuple(allow),
        metadata_free_text=tuple(free),
        deny_list={e: tuple(t) for e, t in deny.items()},
        noise_sigma=scalars.get("noise.sigma", 0.01),
        retain_text=scalars.get("retain_text", True),
        retention_days=scalars.get("retention_days"),
        rate_limit_per_minute=scalars.get("rate_limit.requests_per_minute"),
        scheduling_weight=scalars.get("scheduling.weight", 1.0),
        privacy_budget_epsilon=scalars.get("privacy_budget.epsilon"),
        budget_action=scalars.get("privacy_budget.on_exceed", "block"),
        drift=DriftThresholds(**drift_fields),
        quotas=merge_quotas(scalars),
    )


def load_policy(path: Path) -> GatewayPolicy:
    """Read, validate and build the policy at ``path``; raises PolicyError naming file and line."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read the policy file ({exc.strerror})") from exc
    return parse_policy(data, source=str(path))


def parse_policy(data: bytes, *, source: str = "<policy>") -> GatewayPolicy:
    """Validate policy bytes (the loader's core, separate so tests need no files)."""
    from gateway.policy.schema import build_policy  # the per-section validators

    root = load_located(data, source)
    return build_policy(root, version="sha256:" + hashlib.sha256(data).hexdigest(), source=source)


class PolicyHolder:
    """Hot reload: polls the file's stat and hash; a broken file is logged and NEVER replaces the good policy.

    The first load raises (a gateway must not start without a valid policy); later failures are kept in
    ``last_error`` and logged without any content of the file.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._stat = self._stat_key()
        self._policy = load_policy(path)
        self.last_error: PolicyError | None = None

    def _stat_key(self) -> tuple[int, int] | None:
        try:
            st = self._path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def current(self) -> GatewayPolicy:
        return self._policy

    def reload_if_changed(self) -> bool:
        """Reload when the file changed; True only when a new, valid policy with a new hash took effect."""
        with self._lock:
            stat = self._stat_key()
            if stat == self._stat:
                return False
            self._stat = stat
            try:
                candidate = load_policy(self._path)
            except PolicyError as exc:
                self.last_error = exc
                # PolicyError names the file, line and rule broken, never a value from the file: safe to show
                _log.error("policy reload rejected, keeping version %s: %s", VettedName(self._policy.version),
                           Vetted(str(exc)))
                return False
            self.last_error = None
            if candidate.version == self._policy.version:
                return False
            self._policy = candidate
            _log.info("policy reloaded: version %s", VettedName(candidate.version))
            return True


__all__ = [
    "ACTIONS",
    "BUILTIN_ENTITIES",
    "Action",
    "CustomRecognizerSpec",
    "DriftThresholds",
    "EntityRule",
    "GatewayPolicy",
    "Located",
    "PolicyError",
    "PolicyHolder",
    "ScopePolicy",
    "load_policy",
    "parse_policy",
]
