"""What a policy reload changed, for its audit entries: versions (archived texts) and a structured diff.

Each version in force is archived by content (``audit.policy_archive``) and the ``policy.reload`` entries name the
old and the new one. The diff says *what* changed, never a value from the file: entity actions (block to redact),
settings whose old and new values are numbers, booleans or action words, lists by how many items came and went
(an allow-list's entries are values), and Casbin rules (roles, domains, objects, actions) added or removed.
Changes are grouped by the tenant they concern, so each tenant's auditor sees its own in an entry of its
tenant and the platform-wide ones in an entry of tenant ``*``, and no tenant reads another's.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import yaml

from audit.policy_archive import PolicyArchive, casbin_bundle, version_of
from gateway.errors import GatewayError
from gateway.policy.loader import PolicyHolder

log = logging.getLogger(__name__)

PLATFORM = "*"
WORDS = frozenset({"block", "redact", "pseudonymize", "mask", "hash", "allow", "raise_sigma", "none", "luhn",
                   "iban", "true", "false"})
Changes = dict[str, list[dict[str, Any]]]


def _safe(value: Any) -> bool:
    """A value the diff may show: a number, boolean, null or an action word; never free text."""
    if value is None or isinstance(value, bool | int | float):
        return True
    return isinstance(value, str) and value in WORDS


def _walk(old: Any, new: Any, path: list[str], out: list[tuple[list[str], dict[str, Any]]]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            if key not in new:
                out.append(([*path, str(key)], {"change": "removed"}))
            elif key not in old:
                out.append(([*path, str(key)], {"change": "added", **({"new": new[key]} if _safe(new[key]) else {})}))
            elif old[key] != new[key]:
                _walk(old[key], new[key], [*path, str(key)], out)
        return
    if isinstance(old, list) and isinstance(new, list):
        names_old = {d.get("name") for d in old if isinstance(d, dict)}
        names_new = {d.get("name") for d in new if isinstance(d, dict)}
        if names_old - {None} or names_new - {None}:  # named items (recognizers): say which came and went
            out.append((path, {"change": "modified", "added": sorted(str(n) for n in names_new - names_old),
                               "removed": sorted(str(n) for n in names_old - names_new)}))
            return
        out.append((path, {"change": "modified", "items_added": sum(1 for x in new if x not in old),
                           "items_removed": sum(1 for x in old if x not in new)}))
        return
    row: dict[str, Any] = {"change": "modified"}
    if _safe(old) and _safe(new):
        row.update(old=old, new=new)
    out.append((path, row))


def gateway_changes(old_text: bytes | None, new_text: bytes) -> Changes:
    """Changes between two gateway policy texts, by tenant (``*``: defaults, recognizers, anything else)."""
    try:
        old = yaml.safe_load(old_text) if old_text is not None else None
        new = yaml.safe_load(new_text)
    except yaml.YAMLError:
        return {PLATFORM: [{"path": "", "change": "unreadable"}]}
    if old is None:
        return {PLATFORM: [{"path": "", "change": "first version"}]}
    found: list[tuple[list[str], dict[str, Any]]] = []
    _walk(old, new, [], found)
    out: Changes = defaultdict(list)
    for path, row in found:
        if len(path) >= 2 and path[0] == "tenants":
            out[path[1]].append({"path": ".".join(path[2:]), **row})
        else:
            out[PLATFORM].append({"path": ".".join(path), **row})
    return dict(out)


def _rules(csv_text: bytes) -> set[tuple[str, ...]]:
    rules = set()
    for line in csv_text.decode("utf-8", "replace").splitlines():
        parts = tuple(p.strip() for p in line.split(","))
        if parts and parts[0] in ("p", "g"):
            rules.add(parts)
    return rules


def casbin_changes(old: tuple[bytes, bytes] | None, new: tuple[bytes, bytes]) -> Changes:
    """Rules added and removed, by the domain they apply in (``*``: every tenant); the model file as a whole."""
    if old is None:
        return {PLATFORM: [{"change": "first version"}]}
    out: Changes = defaultdict(list)
    if old[0] != new[0]:
        out[PLATFORM].append({"file": "model.conf", "change": "modified"})
    before, after = _rules(old[1]), _rules(new[1])
    for change, rules in (("added", after - before), ("removed", before - after)):
        for rule in sorted(rules):
            domain = rule[2] if rule[0] == "p" and len(rule) > 2 else rule[-1] if rule[0] == "g" else PLATFORM
            out[domain or PLATFORM].append({"rule": list(rule), "change": change})
    return dict(out)


class PolicyVersions:
    """The versions in force, archived; turns a reload into the fields of its audit entries, one per tenant."""

    def __init__(self, archive: PolicyArchive, gateway_file: Path,
                 casbin_texts: Callable[[], tuple[bytes, bytes]]) -> None:
        self._archive = archive
        self._gateway_file = gateway_file
        self._casbin_texts = casbin_texts  # the authorizer's: its files, or on PostgreSQL the model and the rows
        self.gateway: tuple[str, bytes] | None = None
        self.casbin: tuple[str, tuple[bytes, bytes]] | None = None

    @property
    def archive(self) -> PolicyArchive:
        return self._archive

    def start(self) -> tuple[str | None, str | None]:
        """Archive the texts in force at start; returns (gateway version, Casbin version)."""
        self.gateway_reloaded()
        self.casbin_reloaded()
        return (self.gateway[0] if self.gateway else None, self.casbin[0] if self.casbin else None)

    def gateway_reloaded(self) -> list[dict[str, Any]]:
        try:
            text = self._gateway_file.read_bytes()
        except OSError as exc:
            log.error("policy archive: cannot read the gateway policy: %s", exc.strerror)
            return []
        return self._entries(text, lambda old: gateway_changes(old, text), "gateway", self.gateway, self._set_gw)

    def rejected(self) -> dict[str, Any]:
        """Fields of the entry of a refused gateway policy: the version kept and the one refused (archived too)."""
        try:
            refused = self._archive.put(self._gateway_file.read_bytes())
        except OSError:
            refused = None
        return {"old_version": self.gateway[0] if self.gateway else None, "new_version": refused}

    def casbin_rejected(self) -> dict[str, Any]:
        """Fields of the entry of a refused Casbin policy: the version kept and the one refused (archived too)."""
        try:
            refused = self._archive.put(casbin_bundle(*self._casbin_texts()))
        except (OSError, GatewayError):
            refused = None
        return {"old_version": self.casbin[0] if self.casbin else None, "new_version": refused}

    def casbin_reloaded(self) -> list[dict[str, Any]]:
        try:
            pair = self._casbin_texts()
        except (OSError, GatewayError) as exc:  # GatewayError: the database, unreachable for now
            log.error("policy archive: cannot read the Casbin policy: %s",
                      exc.strerror if isinstance(exc, OSError) else type(exc).__name__)
            return []
        previous = self.casbin[1] if self.casbin else None
        return self._entries(casbin_bundle(*pair), lambda _: casbin_changes(previous, pair), "casbin",
                             self.casbin, lambda v, _: self._set_casbin(v, pair))

    def _set_gw(self, version: str, text: bytes) -> None:
        self.gateway = (version, text)

    def _set_casbin(self, version: str, pair: tuple[bytes, bytes]) -> None:
        self.casbin = (version, pair)

    def _entries(self, text: bytes, diff: Callable[[bytes | None], Changes], what: str, current: Any,
                 install: Callable[[str, bytes], None]) -> list[dict[str, Any]]:
        """One entry's fields per tenant with changes, the platform-wide (``*``) one last and always."""
        old_version = current[0] if current else None
        old_text = current[1] if current and what == "gateway" else None
        try:
            version = self._archive.put(text)
        except OSError as exc:
            log.error("policy archive: cannot archive the %s policy: %s", what, exc.strerror)
            version = version_of(text)
        changes = diff(old_text)
        install(version, text)
        base = {"what": what, "old_version": old_version, "new_version": version}
        tenants = [{**base, "tenant": t, "changes": rows} for t, rows in sorted(changes.items()) if t != PLATFORM]
        return [*tenants, {**base, "tenant": PLATFORM, "changes": changes.get(PLATFORM, [])}]


_REPORTS_PER_POLL = 64


class Reloadable(Protocol):
    @property
    def last_error(self) -> Exception | None:
        """Why the policy in place was refused (None: it is in force)."""

    def reload_if_changed(self) -> bool: ...


def reload_policies(policy: PolicyHolder, authorizer: Reloadable, versions: PolicyVersions | None,
                    record: Callable[..., Any], on_gateway_change: Callable[[], None]) -> None:
    """Reload what changed and audit it (``record`` is the auditor's ``record_sync``): a new version in force, or
    a broken file refused."""
    failed_before, casbin_failed_before = policy.last_error, authorizer.last_error
    # Each rule set that was in force, in order (PostgreSQL: maybe several since the last poll); bounded, so that a
    # file rewritten without pause cannot hold the watcher here: what is left is reported at the next poll.
    for _ in range(_REPORTS_PER_POLL):
        if not authorizer.reload_if_changed():
            break
        fields = versions.casbin_reloaded() if versions else [{"tenant": "*", "what": "casbin"}]
        for entry in fields:  # one entry per tenant whose rules changed, then the platform-wide one
            record("policy.reload", "allow", **entry)
    if authorizer.last_error is not None and authorizer.last_error is not casbin_failed_before:  # after any reload
        record("policy.reload", "deny", tenant="*", what="casbin",
               reason="the changed Casbin policy was rejected; the previous one stays",
               **(versions.casbin_rejected() if versions else {}))
    if policy.reload_if_changed():
        on_gateway_change()
        fields = versions.gateway_reloaded() if versions else [{"tenant": "*", "what": "gateway"}]
        for entry in fields:
            record("policy.reload", "allow", policy_version=policy.current().version, **entry)
    elif policy.last_error is not None and policy.last_error is not failed_before:
        record("policy.reload", "deny", tenant="*", what="gateway",
               reason="the changed policy file was rejected; the previous one stays",
               policy_version=policy.current().version, **(versions.rejected() if versions else {}))
