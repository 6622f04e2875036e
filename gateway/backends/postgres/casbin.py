"""The Casbin policy shared in PostgreSQL: an adapter for the ``casbin_rule`` table and an ``Authorizer`` on it.

The model (``policy/model.conf``) stays a file: it is the shape of the rules, versioned with the code. The
rules live in ``casbin_rule``, seeded from ``policy/policy.csv`` by ``gateway db upgrade`` while the table is
empty. Every replica reloads when the table's fingerprint changes: the change listener checks on each
NOTIFY and the policy watcher polls, so a change made through one replica is in force on all within a second.
Per-key role bindings stay in memory (auto-save is off): they come from the API-key table on each request.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import casbin
from casbin.persist.adapter import Adapter, load_policy_line

from gateway.auth.authz import Authorizer
from gateway.backends.postgres.connection import PgDatabase
from gateway.errors import GatewayError, PolicyError

log = logging.getLogger(__name__)
_FIELDS = 6
_FINGERPRINT = (
    "SELECT count(*), coalesce(md5(string_agg(concat_ws(',', ptype, v0, v1, v2, v3, v4, v5), E'\\n' ORDER BY id)), '')"
    " FROM casbin_rule"
)


def _line(ptype: str, rule: Sequence[str]) -> str:
    return ", ".join([ptype, *rule])


class PgCasbinAdapter(Adapter):  # type: ignore[misc]  # casbin ships no type information
    """Casbin's adapter interface over ``casbin_rule`` (ptype, v0..v5); writes wake the other replicas."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    def load_policy(self, model: Any) -> None:
        with self._db.transaction() as conn:
            rows = conn.execute("SELECT ptype, v0, v1, v2, v3, v4, v5 FROM casbin_rule ORDER BY id").fetchall()
        for ptype, *values in rows:
            while values and values[-1] == "":
                values.pop()
            load_policy_line(_line(ptype, values), model)

    def save_policy(self, model: Any) -> bool:
        rules = [(ptype, list(rule)) for sec in ("p", "g") if sec in model.model
                 for ptype, assertion in model.model[sec].items() for rule in assertion.policy]  # fmt: skip
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM casbin_rule")
            self._insert(conn, rules)
            self._db.notify(conn, "casbin")
        return True

    def add_policy(self, sec: str, ptype: str, rule: Sequence[str]) -> None:
        with self._db.transaction() as conn:
            self._insert(conn, [(ptype, list(rule))])
            self._db.notify(conn, "casbin")

    def remove_policy(self, sec: str, ptype: str, rule: Sequence[str]) -> bool:
        padded = [*rule, *[""] * (_FIELDS - len(rule))]
        with self._db.transaction() as conn:
            count = conn.execute(
                "DELETE FROM casbin_rule WHERE ptype = %s AND v0 = %s AND v1 = %s AND v2 = %s AND v3 = %s "
                "AND v4 = %s AND v5 = %s",
                (ptype, *padded),
            ).rowcount
            self._db.notify(conn, "casbin")
        return count > 0

    def remove_filtered_policy(self, sec: str, ptype: str, field_index: int, *field_values: str) -> bool:
        conditions = ["ptype = %s"]
        params: list[str] = [ptype]
        for offset, value in enumerate(field_values):
            if value:
                conditions.append(f"v{field_index + offset} = %s")
                params.append(value)
        with self._db.transaction() as conn:
            count = conn.execute(
                "DELETE FROM casbin_rule WHERE " + " AND ".join(conditions), params  # noqa: S608 - column names only
            ).rowcount
            self._db.notify(conn, "casbin")
        return count > 0

    def fingerprint(self) -> str:
        """Changes whenever any rule does: what replicas compare to decide to reload."""
        with self._db.transaction() as conn:
            row = conn.execute(_FINGERPRINT).fetchone()
        return "" if row is None else f"{row[0]}:{row[1]}"

    @staticmethod
    def _insert(conn: Any, rules: Sequence[tuple[str, list[str]]]) -> None:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO casbin_rule (ptype, v0, v1, v2, v3, v4, v5) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [(ptype, *rule, *[""] * (_FIELDS - len(rule))) for ptype, rule in rules],
            )


def seed_policy(db: PgDatabase, policy_csv: Path) -> int:
    """Copy the rules of ``policy.csv`` into an empty ``casbin_rule``; returns how many (0: already seeded)."""
    rules: list[tuple[str, list[str]]] = []
    for raw in policy_csv.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        ptype, *values = [token.strip() for token in line.split(",")]
        if len(values) > _FIELDS:
            raise PolicyError(f"{policy_csv}: a rule has more than {_FIELDS} fields")
        rules.append((ptype, values))
    with db.transaction() as conn:
        conn.execute("LOCK TABLE casbin_rule IN EXCLUSIVE MODE")  # two replicas seeding at once seed once
        row = conn.execute("SELECT count(*) FROM casbin_rule").fetchone()
        if row is not None and int(row[0]) > 0:
            return 0
        PgCasbinAdapter._insert(conn, rules)
        db.notify(conn, "casbin")
    return len(rules)


class PgAuthorizer(Authorizer):
    """``Authorizer`` with its rules from ``casbin_rule``; ``reload_if_changed`` compares the table's fingerprint."""

    def __init__(self, policy_dir: Path, db: PgDatabase) -> None:
        self.adapter = PgCasbinAdapter(db)
        self._fingerprint = ""
        self._refused_fingerprint = ""  # the rule set last refused: logged once, not at every poll
        super().__init__(policy_dir)

    def _load(self) -> Any:
        fingerprint = self.adapter.fingerprint()
        try:
            enforcer = casbin.Enforcer(str(self._model), self.adapter)
        except Exception as exc:  # casbin raises plain exceptions for any syntax error
            raise PolicyError(f"{self._model} / casbin_rule: cannot load Casbin policy: {exc}") from exc
        enforcer.enable_auto_save(False)  # per-key bindings added at request time must not reach the table
        if not enforcer.get_policy():
            raise PolicyError("casbin_rule: no rules (run `gateway db upgrade` to seed them from policy.csv)")
        self._fingerprint = fingerprint
        return enforcer

    def reload_if_changed(self) -> bool:
        """Reload when the shared rules changed; a broken rule set is logged (once, not at every poll) and the good
        policy stays."""
        fingerprint = ""
        try:
            fingerprint = self.adapter.fingerprint()
            if fingerprint in (self._fingerprint, self._refused_fingerprint):
                return False
            enforcer = self._load()
        except GatewayError as exc:  # PolicyError, or Unavailable while the database restarts
            log.error("casbin policy not reloaded, keeping the previous one: %s", exc)
            if isinstance(exc, PolicyError):
                self._refused_fingerprint = fingerprint
            return False
        self._refused_fingerprint = ""
        self._install(enforcer)
        log.info("casbin policy reloaded from the database")
        return True
