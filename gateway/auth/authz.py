"""Authorization: Casbin RBAC with tenants as domains, reloaded when the policy files change. Deny by default."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import casbin

from gateway.auth.apikeys import ROLES, Principal
from gateway.errors import Forbidden, PolicyError

log = logging.getLogger(__name__)
# Casbin logs every decision with its subject at INFO; our audit log is the record of decisions.
logging.getLogger("casbin").setLevel(logging.WARNING)


class Authorizer:
    def __init__(self, policy_dir: Path) -> None:
        self._model = policy_dir / "model.conf"
        self._policy = policy_dir / "policy.csv"
        self._lock = threading.Lock()
        self._bound: set[str] = set()
        self._decisions: dict[tuple[str, str, str, str, str], bool] = {}  # cleared with every reload
        self._stamp: tuple[float, float] = (0.0, 0.0)
        self._enforcer: Any = self._load()

    @property
    def version_files(self) -> tuple[Path, Path]:
        return self._model, self._policy

    def _file_stamp(self) -> tuple[float, float]:
        return (self._model.stat().st_mtime, self._policy.stat().st_mtime)

    def _load(self) -> Any:
        try:
            stamp = self._file_stamp()
            enforcer = casbin.Enforcer(str(self._model), str(self._policy))
        except Exception as exc:  # casbin raises plain exceptions for any syntax error
            raise PolicyError(f"{self._model} / {self._policy}: cannot load Casbin policy: {exc}") from exc
        if not enforcer.get_policy():
            raise PolicyError(f"{self._policy}: no rules: an empty policy would deny everything by accident")
        self._stamp = stamp
        return enforcer

    def reload_if_changed(self) -> bool:
        """Reload when a file changed; a broken file is logged and the good policy stays in force."""
        try:
            if self._file_stamp() == self._stamp:
                return False
            enforcer = self._load()
        except (OSError, PolicyError) as exc:
            log.error("casbin policy not reloaded, keeping the previous one: %s", exc)
            return False
        self._install(enforcer)
        log.info("casbin policy reloaded")
        return True

    def _install(self, enforcer: Any) -> None:
        """Put a freshly loaded policy in force; role bindings and cached decisions start over."""
        with self._lock:
            self._enforcer = enforcer
            self._bound = set()
            self._decisions = {}

    def allowed(self, principal: Principal, obj: str, act: str) -> bool:
        key = (principal.key_id, principal.role, principal.tenant, obj, act)
        with self._lock:
            cached = self._decisions.get(key)
            if cached is not None:  # the same question under the same policy has the same answer
                return cached
            subject = principal.casbin_subject
            if subject not in self._bound:
                for role in principal.bound_roles:
                    self._enforcer.add_named_grouping_policy("g", subject, role, principal.tenant)
                self._bound.add(subject)
            decision = bool(self._enforcer.enforce(subject, principal.tenant, obj, act))
            if len(self._decisions) >= 100_000:
                self._decisions.clear()
            self._decisions[key] = decision
            return decision

    def known_role(self, role: str, tenant: str) -> bool:
        """A role of the gateway, or a name (an identity provider's group) that a grouping rule maps to one in
        ``tenant``: ``g, okta:risk-analysts, reader, acme`` in ``policy.csv``."""
        if role in ROLES:
            return True
        with self._lock:
            return bool(self._enforcer.get_roles_for_user_in_domain(role, tenant))

    def require(self, principal: Principal, obj: str, act: str) -> None:
        if not self.allowed(principal, obj, act):
            raise Forbidden(f"role '{principal.role}' may not {act} {obj}")
