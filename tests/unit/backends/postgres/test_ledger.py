"""The privacy-ledger tables replicas share."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import psycopg
import pytest

from gateway.backends.postgres.connection import PgDatabase
from gateway.backends.postgres.ledger import PgPrivacyLedger
from gateway.policy.loader import load_policy
from gateway.privacy.accountant import Release, epsilon_worst_case
from gateway.privacy.budget import reserve_budget
from tests.unit.backends.postgres.pgkit import TempSchema

REPO = Path(__file__).resolve().parents[4]


def test_when_a_release_repeats_then_the_ledger_charges_it_once(db: PgDatabase) -> None:
    ledger = PgPrivacyLedger(db)
    first = ledger.record("acme", "embeddings", 0.05, [b"a", b"b", b"a"])
    again = ledger.record("acme", "embeddings", 0.05, [b"a", b"c"])
    assert (first.releases_new, again.releases_new, again.releases_total) == (2, 1, 3)
    assert ledger.view("acme").total.releases == 3


def test_when_a_scope_is_renamed_then_the_postgres_ledger_moves_its_spend(db: PgDatabase) -> None:
    ledger = PgPrivacyLedger(db)
    ledger.record("acme", "hr-docs", 0.05, [b"a", b"b"])
    ledger.record("globex", "hr-docs", 0.05, [b"a"])
    ledger.rename_scope("acme", "hr-docs", "shredded-0001")
    assert set(ledger.view("acme").scopes) == {"shredded-0001"} and ledger.view("acme").total.releases == 2
    assert ledger.unseen("acme", "shredded-0001", 0.05, [b"a", b"b"]) == 0
    assert set(ledger.view("globex").scopes) == {"hr-docs"}


def test_when_calls_are_recorded_as_one_group_then_each_is_charged_for_its_own_new_releases(db: PgDatabase) -> None:
    ledger = PgPrivacyLedger(db)
    spends = ledger.record_many([Release("acme", "docs", 0.05, [b"a", b"b"]),
                                 Release("acme", "docs", 0.05, [b"b", b"c"]),
                                 Release("beta", "docs", 0.05, [b"a"])])
    assert [(s.releases_new, s.releases_total) for s in spends] == [(2, 3), (1, 3), (1, 1)]


def test_when_the_database_refuses_one_call_of_a_group_then_the_whole_group_rolls_back(
    db: PgDatabase, schema: TempSchema,
) -> None:
    schema.sql("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
               "IF NEW.digest = '\\x62'::bytea THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$")
    schema.sql("CREATE TRIGGER refuse BEFORE INSERT ON privacy_releases FOR EACH ROW EXECUTE FUNCTION refuse()")
    ledger = PgPrivacyLedger(db)
    with pytest.raises(psycopg.errors.RaiseException, match="refused"):
        ledger.record_many([Release("acme", "docs", 0.05, [b"a"]), Release("acme", "docs", 0.05, [b"b"]),
                            Release("acme", "docs", 0.05, [b"c"])])
    assert ledger.view("acme").total.releases == 0
    assert schema.sql("SELECT count(*) FROM privacy_releases") == [(0,)]
    assert ledger.record("acme", "docs", 0.05, [b"a", b"c"]).releases_new == 2  # the pool's connection works again


def test_when_a_budget_is_enforced_then_the_postgres_ledger_counts_unseen_releases_and_decides(db: PgDatabase) -> None:
    # Every embedding request of a tenant with a privacy budget asks these two questions first.
    ledger = PgPrivacyLedger(db)
    scope = load_policy(REPO / "policy" / "gateway.yaml").scope("acme")
    sigma = scope.noise_sigma
    ledger.record("acme", "docs", sigma, [b"a", b"b"])
    assert ledger.unseen("acme", "docs", sigma, [b"a", b"c", b"d", b"c"]) == 2
    assert ledger.unseen("acme", "docs", sigma * 2, [b"a"]) == 1  # another sigma: a new release
    tight = dataclasses.replace(scope, privacy_budget_epsilon=ledger.view("acme").total.epsilon_worst_case * 1.0001)
    assert reserve_budget(ledger, "acme", "docs", tight, [b"a"]).exceeded is False  # a repeat costs nothing
    assert reserve_budget(ledger, "acme", "docs", tight, [b"z"]).exceeded is True
    assert ledger.unseen("acme", "docs", sigma, [b"z"]) == 1  # refused: nothing recorded


def test_when_replicas_reserve_the_last_of_a_budget_at_once_then_only_what_fits_is_recorded(db: PgDatabase) -> None:
    # Regression (attack19): check and record apart let concurrent requests past a budget. Different scopes share
    # no row, so only the tenant's advisory lock orders them.
    ledger = PgPrivacyLedger(db)
    budget = epsilon_worst_case(4.0, 3) * 1.0001
    results: list[object] = []
    threads = [threading.Thread(target=lambda i=i: results.append(
        ledger.reserve("acme", f"scope-{i}", 4.0, [bytes([i])], budget))) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r is not None for r in results) == 3 and ledger.view("acme").total.releases == 3


def test_when_charged_in_two_scopes_then_the_postgres_spend_carries_the_tenants_total(db: PgDatabase) -> None:
    ledger = PgPrivacyLedger(db)
    assert ledger.record_many([Release("acme", "embeddings", 0.01, [b"a", b"b"])])[0].tenant_releases == 2
    reserved = ledger.reserve("acme", "docs", 0.01, [b"c"], budget_epsilon=1e12)
    assert reserved is not None and reserved.tenant_releases == 3
