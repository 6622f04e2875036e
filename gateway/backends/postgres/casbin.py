"""The Casbin policy shared in PostgreSQL: an adapter for the ``casbin_rule`` table and an ``Authorizer`` on it.

The model (``policy/model.conf``) stays a file: it is the shape of the rules, versioned with the code. The
rules live in ``casbin_rule``, seeded from ``policy/policy.csv`` by ``gateway db upgrade`` while the table is
empty. Every replica reloads when the table's fingerprint changes: the change listener checks on each
NOTIFY and the policy watcher polls, so a change made through one replica is in force on all within a second.
Per-key role bindings stay in memory (auto-save is off): they come from the API-key table on each request.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import casbin
from casbin.persist.adapter import Adapter, load_policy_line

from gateway.auth.authz import Authorizer, rule_problem
from gateway.backends.postgres.connection import PgDatabase
from gateway.errors import GatewayError, PolicyError
from gateway.observability.logs import Vetted

log = logging.getLogger(__name__)
_FIELDS = 6
_FINGERPRINT = (
    "SELECT count(*), coalesce(md5(string_agg(concat_ws(',', ptype, v0, v1, v2, v3, v4, v5), E'\\n' ORDER BY id)), '')"
    " FROM casbin_rule"
)


# The fingerprint and the rows in one statement, so one snapshot: what is checked is what Casbin loads.
_SNAPSHOT = (
    "SELECT f.n, f.h, r.id, r.ptype, r.v0, r.v1, r.v2, r.v3, r.v4, r.v5 FROM (SELECT count(*) AS n, coalesce(md5("
    "string_agg(concat_ws(',', ptype, v0, v1, v2, v3, v4, v5), E'\\n' ORDER BY id)), '') AS h FROM casbin_rule) f"
    " LEFT JOIN casbin_rule r ON true ORDER BY r.id"
)
Rows = list[tuple[int, str, list[str]]]


def _line(ptype: str, rule: Sequence[str]) -> str:
    return ", ".join([ptype, *rule])


def _trimmed(values: Sequence[Any]) -> list[str]:
    out = [str(v) for v in values]
    while out and out[-1] == "":
        out.pop()
    return out


def _rules_text(rows: Rows) -> bytes:
    return "".join(_line(ptype, values) + "\n" for _, ptype, values in rows).encode()


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

    def rows(self) -> list[tuple[int, str, list[str]]]:
        """Every rule as (id, type, fields), the empty trailing fields dropped, in the table's order."""
        with self._db.transaction() as conn:
            rows = conn.execute("SELECT id, ptype, v0, v1, v2, v3, v4, v5 FROM casbin_rule ORDER BY id").fetchall()
        out = []
        for row_id, ptype, *values in rows:
            while values and values[-1] == "":
                values.pop()
            out.append((int(row_id), str(ptype), [str(v) for v in values]))
        return out

    def snapshot(self) -> tuple[str, Rows]:
        """The fingerprint and every rule as ``rows`` gives them, read in one statement (one snapshot)."""
        with self._db.transaction() as conn:
            found = conn.execute(_SNAPSHOT).fetchall()
        rows = [(int(r[2]), str(r[3]), _trimmed(r[4:])) for r in found if r[2] is not None]
        return ("" if not found else f"{found[0][0]}:{found[0][1]}"), rows

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


class _SnapshotAdapter(PgCasbinAdapter):
    """Loads the rules of one snapshot (those just checked), never a second read; writes go to the table."""

    def __init__(self, db: PgDatabase, rows: Rows) -> None:
        super().__init__(db)
        self._rows = rows

    def load_policy(self, model: Any) -> None:
        for _, ptype, values in self._rows:
            load_policy_line(_line(ptype, values), model)


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
    """``Authorizer`` with its rules from ``casbin_rule``. Two threads look for changes: the change listener
    (``refresh``, at each NOTIFY) and the policy watcher (``reload_if_changed``). Every rule set put in force, by
    either, is queued with its own rules and reported to the watcher one at a time, in order: a rule inserted and
    deleted again between two of the watcher's polls was in force, and its entry names it (before, the watcher
    read the table once and reported a reload with no change)."""

    def __init__(self, policy_dir: Path, db: PgDatabase) -> None:
        self.adapter = PgCasbinAdapter(db)
        self._db = db
        self._fingerprint = ""
        self._refused_fingerprint = ""  # the rule set last refused: logged once, not at every poll
        self._reload_lock = threading.Lock()
        self._unreported: deque[bytes] = deque()  # the rules of each set put in force and not yet reported
        self._reported = b""  # the rules version_texts gives: the set reported last (or refused), else at start
        self._refused_rules = b""
        self._error: PolicyError | None = None  # why the rules in the table are refused; published by the watcher
        super().__init__(policy_dir)

    def version_texts(self) -> tuple[bytes, bytes]:
        """The model file and, in ``policy.csv``'s form, the rules of the set ``reload_if_changed`` reported last
        (or refused), for the archive and the audited diff: the rules that were in force, never a later read."""
        return self._model.read_bytes(), self._reported

    def _load(self) -> Any:
        fingerprint, rows = self.adapter.snapshot()
        return self._load_rows(fingerprint, rows)

    def _load_rows(self, fingerprint: str, rows: Rows) -> Any:
        for row_id, ptype, values in rows:  # what Casbin would take in silence, as for the file
            problem = rule_problem([ptype, *values])
            if problem is None and any(v != v.strip() for v in [ptype, *values]):  # Casbin strips: a second spelling
                problem = "a field starts or ends with white space, which Casbin would strip"
            if problem is not None:
                self._refused_rules = _rules_text(rows)
                raise PolicyError(f"casbin_rule id {row_id}: {problem}")
        try:  # the rows just checked, not a second read that a writer could have changed meanwhile
            enforcer = casbin.Enforcer(str(self._model), _SnapshotAdapter(self._db, rows))
        except Exception as exc:  # casbin raises plain exceptions for any syntax error; their text may quote rules
            raise PolicyError(f"{self._model} / casbin_rule: cannot load Casbin policy ({type(exc).__name__})") \
                from exc
        enforcer.enable_auto_save(False)  # per-key bindings added at request time must not reach the table
        if not enforcer.get_policy():
            raise PolicyError("casbin_rule: no rules (run `gateway db upgrade` to seed them from policy.csv)")
        self._fingerprint, self._reported = fingerprint, _rules_text(rows)
        return enforcer

    def refresh(self) -> None:
        """The change listener's callback: put a changed rule set in force at once (the watcher reports it)."""
        with self._reload_lock:
            self._reload()

    def reload_if_changed(self) -> bool:
        """Whether a rule set was put in force (now or by the listener) that was not reported yet; call again until
        False, one report per set. When a changed rule set was refused, ``last_error`` says why and the good
        policy stays."""
        with self._reload_lock:
            if not self._unreported:
                self._reload()
            self.last_error = self._error
            if self._unreported:
                self._reported = self._unreported.popleft()
                return True
            if self._error is not None:
                self._reported = self._refused_rules
            return False

    def _reload(self) -> None:
        fingerprint = ""
        try:
            if self.adapter.fingerprint() in (self._fingerprint, self._refused_fingerprint):
                return  # the common case, each poll: one aggregate row, not the table
            fingerprint, rows = self.adapter.snapshot()
            if fingerprint in (self._fingerprint, self._refused_fingerprint):
                return
            enforcer = self._load_rows(fingerprint, rows)
        except GatewayError as exc:  # PolicyError, or Unavailable while the database restarts
            log.error("casbin policy not reloaded, keeping the previous one: %s", Vetted(str(exc)))
            if isinstance(exc, PolicyError):
                self._refused_fingerprint, self._error = fingerprint, exc
            return
        self._refused_fingerprint, self._error = "", None
        self._unreported.append(self._reported)
        self._install(enforcer)
        log.info("casbin policy reloaded from the database")
