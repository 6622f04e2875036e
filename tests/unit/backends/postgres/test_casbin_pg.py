"""The Casbin policy in PostgreSQL: seeded from policy.csv, shared, and reloaded by every replica within a second."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gateway.auth.apikeys import Principal
from gateway.backends.postgres.casbin import PgAuthorizer, seed_policy
from gateway.backends.postgres.connection import PgDatabase
from gateway.backends.postgres.listen import Listener
from gateway.errors import PolicyError
from tests.unit.backends.postgres.pgkit import TempSchema

POLICY = Path(__file__).resolve().parents[4] / "policy"
READER = Principal("0123456789abcdef", "acme", "rita", "reader")


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
    listener = Listener(schema.url, {"casbin": other.reload_if_changed}, poll_interval_s=5.0)  # NOTIFY, not poll
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
    db: PgDatabase, schema: TempSchema, caplog: pytest.LogCaptureFixture
) -> None:
    seed_policy(db, POLICY / "policy.csv")
    authz = PgAuthorizer(POLICY, db)
    rules = schema.sql("SELECT ptype, v0, v1, v2, v3 FROM casbin_rule")
    schema.sql("DELETE FROM casbin_rule")  # every rule gone: refused, the previous policy stays
    with caplog.at_level("ERROR", logger="gateway.backends.postgres.casbin"):
        assert [authz.reload_if_changed() for _ in range(5)] == [False] * 5  # five polls, one message
    assert len([r for r in caplog.records if "not reloaded" in r.getMessage()]) == 1
    assert authz.allowed(READER, "collections", "search")
    for rule in [*rules, ("p", "reader", "*", "documents", "write")]:  # fixed, with a rule more
        schema.sql("INSERT INTO casbin_rule (ptype, v0, v1, v2, v3) VALUES (%s, %s, %s, %s, %s)", rule)
    assert authz.reload_if_changed() and authz.allowed(READER, "documents", "write")
