"""Validators for each section of the gateway policy file; every error names the file and line.

Split from ``gateway.policy.loader`` (which owns the public types) to keep both modules small.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NoReturn, cast

import phonenumbers

from gateway.errors import PolicyError
from gateway.policy.loader import (
    ACTIONS,
    BUILTIN_ENTITIES,
    COLLECTION_KEYS,
    DEFAULT_PHONE_REGIONS,
    ENTITY_KEYS,
    INPUT_KINDS,
    PATTERN_KEYS,
    PII_KEYS,
    RECOGNIZER_KEYS,
    SUB_KEYS,
    TENANT_KEYS,
    TOP_KEYS,
    VALIDATORS,
    Action,
    CustomRecognizerSpec,
    GatewayPolicy,
    _Layer,
)
from gateway.policy.located import Located
from gateway.policy.quotas import LIMIT_NAMES

_ENTITY_NAME = re.compile(r"^[A-Z][A-Z0-9_]{1,63}\Z")
_KEY_ID = re.compile(r"^[0-9a-f]{16}\Z")  # an API key's public id (gateway.auth.apikeys)


class _Ctx:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, node: Located, message: str) -> NoReturn:
        raise PolicyError(f"{self.source}:{node.line}: {message}")

    def mapping(self, node: Located, what: str, allowed: frozenset[str] | None = None) -> dict[str, Located]:
        if not isinstance(node.value, dict):
            self.fail(node, f"{what} must be a mapping")
        value = cast(dict[str, Located], node.value)
        if allowed is not None:
            for key, item in value.items():
                if key not in allowed:
                    self.fail(item, f"unknown key {key!r} in {what} (allowed: {', '.join(sorted(allowed))})")
        return value

    def number(self, node: Located, what: str, lo: float = 0.0, hi: float | None = None) -> float:
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            self.fail(node, f"{what} must be a number")
        value = float(node.value)
        if value < lo or (hi is not None and value > hi):
            self.fail(node, f"{what} must be in [{lo}, {hi if hi is not None else 'inf'}]")
        return value

    def strings(self, node: Located, what: str) -> list[str]:
        if not isinstance(node.value, list) or not all(isinstance(i.value, str) for i in node.value):
            self.fail(node, f"{what} must be a list of strings")
        return [cast(str, i.value) for i in node.value]


def _entities(ctx: _Ctx, node: Located, known: frozenset[str]) -> dict[str, tuple[Action, float | None]]:
    out: dict[str, tuple[Action, float | None]] = {}
    for name, item in ctx.mapping(node, "pii.entities").items():
        if name not in known:
            ctx.fail(item, f"unknown entity type {name!r} (not built in and no recognizer declares it)")
        threshold: float | None = None
        if isinstance(item.value, dict):
            fields = ctx.mapping(item, f"pii.entities.{name}", ENTITY_KEYS)
            if "action" not in fields:
                ctx.fail(item, f"pii.entities.{name} needs an action")
            action_node = fields["action"]
            if "threshold" in fields:
                threshold = ctx.number(fields["threshold"], f"threshold of {name}", 0.0, 1.0)
        else:
            action_node = item
        if action_node.value not in ACTIONS:
            ctx.fail(action_node, f"action of {name} must be one of {', '.join(sorted(ACTIONS))}")
        out[name] = (cast(Action, action_node.value), threshold)
    return out


def _pii(ctx: _Ctx, node: Located, layer: _Layer, known: frozenset[str], ruled: frozenset[str]) -> None:
    fields = ctx.mapping(node, "pii", PII_KEYS)
    if "threshold" in fields:
        layer.threshold = ctx.number(fields["threshold"], "pii.threshold", 0.0, 1.0)
    if "entities" in fields:
        layer.entities = _entities(ctx, fields["entities"], known)
    if "allow_list" in fields:
        layer.allow_list = ctx.strings(fields["allow_list"], "pii.allow_list")
    if "metadata_free_text" in fields:
        layer.metadata_free_text = ctx.strings(fields["metadata_free_text"], "pii.metadata_free_text")
    if "reject_input" in fields:
        layer.reject_input = ctx.strings(fields["reject_input"], "pii.reject_input")
        for kind in layer.reject_input:
            if kind not in INPUT_KINDS:
                ctx.fail(fields["reject_input"], f"pii.reject_input: {kind!r} is not one of {', '.join(INPUT_KINDS)}")
    if "deny_list" in fields:
        for name, terms in ctx.mapping(fields["deny_list"], "pii.deny_list").items():
            if name not in known:
                ctx.fail(terms, f"unknown entity type {name!r} in pii.deny_list")
            if name not in ruled and name not in layer.entities:
                ctx.fail(terms, f"pii.deny_list names {name} but no pii.entities rule covers it here")
            values = ctx.strings(terms, f"pii.deny_list.{name}")
            if any(not t.strip() for t in values):
                ctx.fail(terms, f"pii.deny_list.{name} has an empty term")
            layer.deny_list[name] = values


def _scalars(ctx: _Ctx, key: str, node: Located, layer: _Layer) -> None:
    if key == "retain_text":
        if not isinstance(node.value, bool):
            ctx.fail(node, "retain_text must be true or false")
        layer.scalars["retain_text"] = node.value
        return
    if key == "quotas":
        _quotas(ctx, node, layer)
        return
    if key == "retention_days":
        days = node.value
        if days is not None and (isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 36500):
            ctx.fail(node, "retention_days must be a whole number of days from 1 to 36500, or null (keep)")
        layer.scalars["retention_days"] = days
        return
    for sub, item in ctx.mapping(node, key, SUB_KEYS[key]).items():
        name = f"{key}.{sub}"
        value: Any
        if sub == "on_exceed":
            if item.value not in ("block", "raise_sigma"):
                ctx.fail(item, "privacy_budget.on_exceed must be block or raise_sigma")
            value = item.value
        elif item.value is None and sub in ("requests_per_minute", "epsilon"):
            value = None  # explicitly unlimited / no budget
        elif sub == "requests_per_minute":
            if isinstance(item.value, bool) or not isinstance(item.value, int) or item.value < 1:
                ctx.fail(item, "rate_limit.requests_per_minute must be a positive integer or null")
            value = item.value
        elif sub == "epsilon":
            value = ctx.number(item, name, 1e-9)
        elif sub == "weight":
            value = ctx.number(item, name, 0.01, 100.0)
        else:
            value = ctx.number(item, name, 0.0)
        layer.scalars[name] = value


def _limits(ctx: _Ctx, node: Located, what: str, layer: _Layer, prefix: str) -> None:
    for name, item in ctx.mapping(node, what, frozenset(LIMIT_NAMES)).items():
        value = item.value
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            ctx.fail(item, f"{what}.{name} must be a positive integer or null (no limit)")
        layer.scalars[f"{prefix}.{name}"] = value


def _quotas(ctx: _Ctx, node: Located, layer: _Layer) -> None:
    fields = ctx.mapping(node, "quotas", frozenset({"tenant", "key", "keys"}))
    for scope in ("tenant", "key"):
        if scope in fields:
            _limits(ctx, fields[scope], f"quotas.{scope}", layer, f"quotas.{scope}")
    if "keys" in fields:
        for key_id, item in ctx.mapping(fields["keys"], "quotas.keys").items():
            if not _KEY_ID.match(key_id):
                ctx.fail(item, "quotas.keys are keyed by an API key's id: 16 lower-case hex digits")
            _limits(ctx, item, f"quotas.keys.{key_id}", layer, f"quotas.keys.{key_id}")


def _layer(
    ctx: _Ctx,
    node: Located,
    allowed: frozenset[str],
    known: frozenset[str],
    what: str,
    ruled: frozenset[str] = frozenset(),
) -> _Layer:
    """One level; ``ruled`` are the entity types its parent levels already have rules for."""
    layer = _Layer()
    if isinstance(node.value, dict) and "quotas" in node.value and "quotas" not in allowed:
        ctx.fail(node.value["quotas"], f"quotas in {what}: quotas count a tenant's and its keys' use, whatever the "
                                       "collection; set them under the tenant (tenants.T.quotas) or defaults")
    for key, item in ctx.mapping(node, what, allowed).items():
        if key == "pii":
            _pii(ctx, item, layer, known, ruled)
        elif key != "collections":
            _scalars(ctx, key, item, layer)
    return layer


def _recognizers(ctx: _Ctx, node: Located) -> tuple[CustomRecognizerSpec, ...]:
    if not isinstance(node.value, list):
        ctx.fail(node, "recognizers must be a list")
    specs: list[CustomRecognizerSpec] = []
    for item in cast(list[Located], node.value):
        fields = ctx.mapping(item, "a recognizer", RECOGNIZER_KEYS)
        for required in ("name", "entity", "patterns"):
            if required not in fields:
                ctx.fail(item, f"a recognizer needs {required!r}")
        name, entity = fields["name"].value, fields["entity"].value
        if not isinstance(name, str) or not name:
            ctx.fail(fields["name"], "recognizer name must be a non-empty string")
        if not isinstance(entity, str) or not _ENTITY_NAME.match(entity):
            ctx.fail(fields["entity"], "recognizer entity must be UPPER_SNAKE_CASE")
        if entity in BUILTIN_ENTITIES:
            ctx.fail(fields["entity"], f"entity {entity!r} is built in; custom recognizers need a new type")
        if any(s.name == name for s in specs):
            ctx.fail(fields["name"], f"duplicate recognizer name {name!r}")
        patterns = _patterns(ctx, fields["patterns"])
        context = tuple(ctx.strings(fields["context"], "context")) if "context" in fields else ()
        validator = fields["validator"].value if "validator" in fields else "none"
        if validator not in VALIDATORS:
            ctx.fail(fields["validator"], f"validator must be one of {', '.join(sorted(VALIDATORS))}")
        specs.append(CustomRecognizerSpec(name, entity, patterns, context, None if validator == "none" else validator))
    return tuple(specs)


def _patterns(ctx: _Ctx, node: Located) -> tuple[tuple[str, float], ...]:
    if not isinstance(node.value, list) or not node.value:
        ctx.fail(node, "patterns must be a non-empty list")
    out: list[tuple[str, float]] = []
    for item in cast(list[Located], node.value):
        fields = ctx.mapping(item, "a pattern", PATTERN_KEYS)
        if "regex" not in fields or not isinstance(fields["regex"].value, str):
            ctx.fail(item, "a pattern needs a regex string")
        regex: str = fields["regex"].value
        try:
            compiled = re.compile(regex)
        except re.error as exc:
            ctx.fail(fields["regex"], f"bad regex ({exc.msg})")
        if compiled.match(""):
            ctx.fail(fields["regex"], "a regex that matches the empty string would flag every text")
        score = ctx.number(fields["score"], "pattern score", 0.0, 1.0) if "score" in fields else 0.5
        out.append((regex, score))
    return tuple(out)


def _phone_regions(ctx: _Ctx, node: Located) -> tuple[str, ...]:
    """ISO 3166-1 alpha-2 codes that libphonenumber has metadata for, each once, at least one."""
    regions = ctx.strings(node, "phone_regions")
    if not regions:
        ctx.fail(node, "phone_regions must list at least one region (for example US)")
    for item in cast(list[Located], node.value):
        if item.value not in phonenumbers.SUPPORTED_REGIONS:
            ctx.fail(
                item,
                f"phone_regions: unknown region code {item.value!r} (use an upper-case two-letter ISO 3166 "
                "country code that libphonenumber knows, such as US, GB, DE, FR, IN, CA)",
            )
    if len(set(regions)) != len(regions):
        ctx.fail(node, "phone_regions lists a region twice")
    return tuple(regions)


def build_policy(root: Located, *, version: str, source: str) -> GatewayPolicy:
    """Validate the whole document and build the policy; fails closed on anything missing."""
    ctx = _Ctx(source)
    top = ctx.mapping(root, "the policy file", TOP_KEYS)
    if "version" not in top or top["version"].value != 1:
        ctx.fail(top.get("version", root), "version: 1 is required")
    recognizers = _recognizers(ctx, top["recognizers"]) if "recognizers" in top else ()
    regions = _phone_regions(ctx, top["phone_regions"]) if "phone_regions" in top else DEFAULT_PHONE_REGIONS
    known = BUILTIN_ENTITIES | {r.entity for r in recognizers}
    if "defaults" not in top:
        ctx.fail(root, "defaults is required (an empty policy is rejected)")
    defaults_node = top["defaults"]
    defaults = _layer(ctx, defaults_node, TENANT_KEYS - {"collections"}, known, "defaults")
    if not defaults.entities:
        ctx.fail(defaults_node, "defaults.pii.entities is required and must not be empty (fail closed)")
    tenants: dict[str, tuple[_Layer, Mapping[str, _Layer]]] = {}
    if "tenants" in top:
        for tenant, tnode in ctx.mapping(top["tenants"], "tenants").items():
            base = frozenset(defaults.entities)
            layer = _layer(ctx, tnode, TENANT_KEYS, known, f"tenants.{tenant}", base)
            collections: dict[str, _Layer] = {}
            cnode = ctx.mapping(tnode, f"tenants.{tenant}").get("collections")
            if cnode is not None:
                for name, node in ctx.mapping(cnode, "collections").items():
                    collections[name] = _layer(
                        ctx, node, COLLECTION_KEYS, known, f"tenants.{tenant}.collections.{name}",
                        base | set(layer.entities),
                    )
            tenants[tenant] = (layer, collections)
    return GatewayPolicy(
        version=version,
        recognizers=recognizers,
        defaults=defaults,
        tenants=tenants,
        source=source,
        phone_regions=regions,
    )
