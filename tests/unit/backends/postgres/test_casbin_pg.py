"""The Casbin policy in PostgreSQL: seeded from policy.csv, shared, and reloaded by every replica within a second."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import casbin
import pytest

from audit.policy_archive import PolicyArchive
from gateway.auth.apikeys import Principal
from gateway.backends.postgres.casbin import PgAuthorizer, seed_policy
from gateway.backends.postgres.connection import PgDatabase
from gateway.backends.postgres.listen import Listener
from gateway.errors import PolicyError
from gateway.policy.changes import PolicyVersions, reload_policies
from gateway.policy.loader import PolicyHolder
from tests.unit.backends.postgres.pgkit import TempSchema

POLICY = Path(__file__).resolve().parents[4] / "policy"
READER = Principal("0123456789abcdef", "acme", "rita", "reader")


@pytest.fixture
def authz(db: PgDatabase) -> PgAuthorizer:
    """An authorizer on ``casbin_rule`` seeded from the shipped ``policy.csv``."""
    seed_policy(db, POLICY / "policy.csv")
    return PgAuthorizer(POLICY, db)


def test_when_the_table_is_empty_then_the_authorizer_refuses_to_start(db: PgDatabase) -> None:
    with pytest.raises(PolicyError):
        PgAuthorizer(POLICY, db)


def test_when_seeded_twice_then_the_rules_are_copied_once(db: PgDatabase) -> None:
    assert seed_policy(db, POLICY / "policy.csv") > 0
    assert seed_policy(db, POLICY / "policy.csv") == 0
    authz = PgAuthorizer(POLICY, db)
    assert authz.allowed(READER, "collections", "search")
    assert not authz.allowed(READER, "documents", "write")


def test_when_a_rule_is_added_on_one_replica_then_another_enforces_it_within_a_second(
    db: PgDatabase, schema: TempSchema
) -> None:
    seed_policy(db, POLICY / "policy.csv")
    other_db = PgDatabase(schema.url, max_size=2)
    one, other = PgAuthorizer(POLICY, db), PgAuthorizer(POLICY, other_db)
    listener = Listener(schema.url, {"casbin": other.refresh}, poll_interval_s=5.0)  # NOTIFY, not poll
    listener.start()
    try:
        time.sleep(0.3)  # listening
        assert not other.allowed(READER, "documents", "write")
        started = time.monotonic()
        one.adapter.add_policy("p", "p", ["reader", "*", "documents", "write"])
        while not other.allowed(READER, "documents", "write"):
            assert time.monotonic() - started < 1.0, "the change did not reach the other replica within a second"
            time.sleep(0.01)
        # Per-key bindings made at request time stay in memory: they never reach the shared table.
        assert schema.sql("SELECT v0 FROM casbin_rule WHERE v0 LIKE 'key:%%'") == []
    finally:
        listener.stop()
        other_db.close()


def test_when_the_shared_rules_are_broken_then_the_refusal_is_logged_once_and_a_fix_loads(
    authz: PgAuthorizer, schema: TempSchema, caplog: pytest.LogCaptureFixture
) -> None:
    rules = schema.sql("SELECT ptype, v0, v1, v2, v3 FROM casbin_rule")
    schema.sql("DELETE FROM casbin_rule")  # every rule gone: refused, the previous policy stays
    with caplog.at_level("ERROR", logger="gateway.backends.postgres.casbin"):
        assert [authz.reload_if_changed() for _ in range(5)] == [False] * 5  # five polls, one message
    assert len([r for r in caplog.records if "not reloaded" in r.getMessage()]) == 1
    assert authz.allowed(READER, "collections", "search")
    for rule in [*rules, ("p", "reader", "*", "documents", "write")]:  # fixed, with a rule more
        schema.sql("INSERT INTO casbin_rule (ptype, v0, v1, v2, v3) VALUES (%s, %s, %s, %s, %s)", rule)
    assert authz.reload_if_changed() and authz.allowed(READER, "documents", "write")


def _reloads(authz: PgAuthorizer, tmp_path: Path) -> tuple[Any, list[dict[str, Any]]]:
    """The policy watcher's reload step over ``authz`` with a real archive; what it records is collected."""
    versions = PolicyVersions(PolicyArchive(tmp_path / "archive"), POLICY / "gateway.yaml", authz.version_texts)
    versions.start()
    recorded: list[dict[str, Any]] = []
    holder = PolicyHolder(POLICY / "gateway.yaml")

    def step() -> None:
        reload_policies(holder, authz, versions, lambda event, decision, **f: recorded.append(
            {"event": event, "decision": decision, **f}), lambda: None)

    return step, recorded


def test_when_a_rule_row_is_inserted_then_the_watcher_audits_it_even_after_the_listener_loaded_it(
    authz: PgAuthorizer, schema: TempSchema, tmp_path: Path
) -> None:
    # Before: the listener's reload left the watcher nothing to report, so an insider's INSERT granting a role in a
    # tenant went unaudited on PostgreSQL (the archive read policy.csv, which replicas do not enforce).
    step, recorded = _reloads(authz, tmp_path)
    schema.sql("INSERT INTO casbin_rule (ptype, v0, v1, v2) VALUES ('g', 'okta:risk-analysts', 'admin', 'acme')")
    authz.refresh()  # the listener, woken by the change, loads it first
    assert authz.known_role("okta:risk-analysts", "acme")
    step()
    step()  # reported once
    assert [(r["decision"], r["tenant"], r["what"]) for r in recorded] == [("allow", "acme", "casbin"),
                                                                          ("allow", "*", "casbin")]
    assert recorded[0]["changes"] == [{"rule": ["g", "okta:risk-analysts", "admin", "acme"], "change": "added"}]
    assert recorded[0]["old_version"] != recorded[0]["new_version"]


def test_when_a_rule_row_has_the_wrong_shape_then_it_is_refused_audited_once_and_the_good_policy_stays(
    authz: PgAuthorizer, schema: TempSchema, tmp_path: Path
) -> None:
    # A p rule of three fields: Casbin keeps it and it never matches; a type Casbin does not know: dropped in silence.
    step, recorded = _reloads(authz, tmp_path)
    schema.sql("INSERT INTO casbin_rule (ptype, v0, v1, v2) VALUES ('p', 'reader', 'documents', 'write')")
    row_id = schema.sql("SELECT max(id) FROM casbin_rule")[0][0]
    authz.refresh()
    step()
    step()
    assert [(r["decision"], r["tenant"], r["what"]) for r in recorded] == [("deny", "*", "casbin")]
    assert authz.last_error is not None and f"casbin_rule id {row_id}: a p rule has 4 fields" in str(authz.last_error)
    assert authz.allowed(READER, "collections", "search") and not authz.allowed(READER, "documents", "write")
    schema.sql("UPDATE casbin_rule SET ptype = 'q', v2 = '' WHERE id = %s", (row_id,))
    authz.refresh()
    step()
    assert recorded[-1]["decision"] == "deny" and "a rule starts with p or g" in str(authz.last_error)


def test_when_a_rule_is_inserted_and_deleted_between_two_polls_then_each_set_in_force_is_audited_with_its_rule(
    authz: PgAuthorizer, schema: TempSchema, tmp_path: Path
) -> None:
    # Regression (attack18): the listener put the grant in force, then the table without it, before the watcher
    # polled; the watcher read the table once and audited a reload with no change. Measured over HTTP: a reader
    # created 55 collections under a rule whose only policy.reload entry said old_version == new_version.
    step, recorded = _reloads(authz, tmp_path)
    grant = ("p", "reader", "*", "collections", "create")
    schema.sql("INSERT INTO casbin_rule (ptype, v0, v1, v2, v3) VALUES (%s, %s, %s, %s, %s)", grant)
    authz.refresh()
    assert authz.allowed(READER, "collections", "create")  # in force
    schema.sql("DELETE FROM casbin_rule WHERE v0 = 'reader' AND v2 = 'collections' AND v3 = 'create'")
    authz.refresh()
    step()
    assert [r["changes"] for r in recorded] == [[{"rule": list(grant), "change": "added"}],
                                                [{"rule": list(grant), "change": "removed"}]]
    assert recorded[0]["new_version"] == recorded[1]["old_version"] != recorded[1]["new_version"]
    step()
    assert len(recorded) == 2  # each reported once


def test_when_a_row_is_written_while_the_rules_load_then_casbin_takes_only_the_rows_that_were_checked(
    authz: PgAuthorizer, schema: TempSchema, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: the rows were checked in one read and Casbin loaded a second one; a p rule of the wrong shape written
    # in between was taken in silence and stayed in force (the next poll refused the set and kept that policy).
    real = casbin.Enforcer

    def racing(*args: Any) -> Any:
        monkeypatch.setattr(casbin, "Enforcer", real)
        schema.sql("INSERT INTO casbin_rule (ptype, v0, v1, v2) VALUES ('p', 'reader', 'documents', 'write')")
        return real(*args)

    schema.sql("INSERT INTO casbin_rule (ptype, v0, v1, v2, v3) VALUES ('p', 'reader', '*', 'documents', 'read')")
    monkeypatch.setattr(casbin, "Enforcer", racing)
    authz.refresh()
    assert ["reader", "documents", "write"] not in authz.rules()[0]
    authz.refresh()  # the row written meanwhile is seen, checked and refused
    assert ["reader", "documents", "write"] not in authz.rules()[0]
    assert authz.reload_if_changed() and authz.last_error is not None


@pytest.mark.parametrize("field", ["create,x", "create(", "create]", " create"])
def test_when_a_field_holds_what_casbin_reads_as_another_shape_then_the_row_is_refused_and_the_rules_stay(
    authz: PgAuthorizer, schema: TempSchema, field: str
) -> None:
    # Regression (attack18): Casbin reads a row as one line split at commas outside brackets, tokens stripped. A
    # row of four fields whose last held a comma passed the shape check and became a rule of five: every
    # authorization that reached it raised "invalid policy size" (one SQL row: every request an internal error).
    schema.sql("INSERT INTO casbin_rule (ptype, v0, v1, v2, v3) VALUES ('p', 'reader', '*', 'collections', %s)",
               (field,))
    row_id = schema.sql("SELECT max(id) FROM casbin_rule")[0][0]
    authz.refresh()
    assert authz.allowed(READER, "collections", "search") and not authz.allowed(READER, "collections", "create")
    assert authz.reload_if_changed() is False
    assert authz.last_error is not None and f"casbin_rule id {row_id}" in str(authz.last_error)


def test_when_a_set_was_loaded_and_the_next_refused_before_the_watcher_polled_then_both_are_audited(
    authz: PgAuthorizer, schema: TempSchema, tmp_path: Path
) -> None:
    # Before: the watcher reported the loaded set with the refused rows' texts, and the refusal never.
    step, recorded = _reloads(authz, tmp_path)
    schema.sql("INSERT INTO casbin_rule (ptype, v0, v1, v2, v3) VALUES ('p', 'reader', '*', 'documents', 'write')")
    authz.refresh()
    schema.sql("INSERT INTO casbin_rule (ptype, v0, v1, v2) VALUES ('p', 'reader', 'documents', 'delete')")
    authz.refresh()
    step()
    assert [(r["decision"], r["tenant"]) for r in recorded] == [("allow", "*"), ("deny", "*")]
    assert recorded[0]["changes"] == [{"rule": ["p", "reader", "*", "documents", "write"], "change": "added"}]
    assert recorded[1]["old_version"] == recorded[0]["new_version"] != recorded[1]["new_version"]
    step()
    assert len(recorded) == 2
