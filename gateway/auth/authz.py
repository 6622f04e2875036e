"""Authorization: Casbin RBAC with tenants as domains, reloaded when the policy files change. Deny by default."""

from __future__ import annotations

import csv
import logging
import threading
from pathlib import Path
from typing import Any

import casbin

from gateway.auth.apikeys import ROLES, Principal
from gateway.errors import Forbidden, PolicyError
from gateway.observability.logs import Vetted

log = logging.getLogger(__name__)
# Casbin logs every decision with its subject, allowed ones at INFO and denied ones at WARNING; our audit log is the
# record of decisions, so only its errors are let through.
logging.getLogger("casbin").setLevel(logging.ERROR)


# Fields after the rule type, as policy/model.conf defines them: p = sub, dom, obj, act; g = user, role, tenant.
RULE_FIELDS = {"p": 4, "g": 3}
_SPLITTING = ",()[]"


def rule_problem(fields: list[str]) -> str | None:
    """What Casbin would take in silence in one rule (its type, then its fields), or None: an unknown rule type
    (dropped) or a ``p`` rule with too few or too many fields (kept, and never matching what its author meant)."""
    kind = fields[0].strip()
    if kind not in RULE_FIELDS:
        return "a rule starts with p or g (a policy or a role binding)"
    if len(fields) - 1 != RULE_FIELDS[kind]:
        shape = "sub, dom, obj, act" if kind == "p" else "user, role, tenant"
        return f"a {kind} rule has {RULE_FIELDS[kind]} fields ({shape}), this one has {len(fields) - 1}"
    if any(c in field for field in fields[1:] for c in _SPLITTING):
        # Casbin reads a rule as one line cut at commas outside brackets: such a field makes another shape (a p
        # rule of five fields raised "invalid policy size" at every decision that reached it).
        return "a field holds a comma or a bracket, which Casbin would read as another rule"
    return None


def check_rule_lines(path: Path) -> None:
    """Refuse, naming the file and line, a rule Casbin would take in silence (``rule_problem``)."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        problem = rule_problem(next(csv.reader([line], skipinitialspace=True)))
        if problem is not None:
            raise PolicyError(f"{path}:{number}: {problem}")


class Authorizer:
    def __init__(self, policy_dir: Path) -> None:
        self._model = policy_dir / "model.conf"
        self._policy = policy_dir / "policy.csv"
        self._lock = threading.Lock()
        self._bound: set[str] = set()
        self._decisions: dict[tuple[str, str, str, str, str], bool] = {}  # cleared with every reload
        self._stamp: tuple[float, float] = (0.0, 0.0)
        self._refused = b""  # the files of the last version refused: logged and audited once, not at every poll
        self.last_error: PolicyError | None = None  # why the files in place were refused (None: in force)
        self._enforcer: Any = self._load()

    def version_texts(self) -> tuple[bytes, bytes]:
        """The texts of the policy as it stands (the model, then the rules), for its archived versions and the
        audited diff of a reload; raises ``OSError`` when they cannot be read."""
        return self._model.read_bytes(), self._policy.read_bytes()

    def _file_stamp(self) -> tuple[float, float]:
        return (self._model.stat().st_mtime, self._policy.stat().st_mtime)

    def _load(self) -> Any:
        try:
            stamp = self._file_stamp()
            check_rule_lines(self._policy)
            enforcer = casbin.Enforcer(str(self._model), str(self._policy))
        except PolicyError:
            raise
        except Exception as exc:  # casbin raises plain exceptions for any syntax error; their text may quote rules
            raise PolicyError(f"{self._model} / {self._policy}: cannot load Casbin policy ({type(exc).__name__})") \
                from exc
        if not enforcer.get_policy():
            raise PolicyError(f"{self._policy}: no rules: an empty policy would deny everything by accident")
        self._stamp = stamp
        return enforcer

    def reload_if_changed(self) -> bool:
        """Reload when a file changed; a broken file is logged (once per version) and the good policy stays in
        force, with ``last_error`` saying why."""
        try:
            if self._file_stamp() == self._stamp:
                return False
            # Compared by content, not by time stamp: a write completed within the same tick must still load.
            files = self._model.read_bytes() + b"\0" + self._policy.read_bytes()
            if files == self._refused:
                return False
            enforcer = self._load()
        except (OSError, PolicyError) as exc:
            # The reason names files, lines and field counts, never a rule's values (else it was logged as a shape).
            reason = Vetted(str(exc)) if isinstance(exc, PolicyError) else type(exc).__name__
            log.error("casbin policy not reloaded, keeping the previous one: %s", reason)
            if isinstance(exc, PolicyError):
                self._refused, self.last_error = files, exc
            return False
        self._refused, self.last_error = b"", None
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

    def rules(self) -> tuple[list[list[str]], list[list[str]]]:
        """The policy rules and the role bindings as loaded from ``policy.csv`` (the bindings of callers seen since
        the last load included)."""
        with self._lock:
            return list(self._enforcer.get_policy()), list(self._enforcer.get_grouping_policy())

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
