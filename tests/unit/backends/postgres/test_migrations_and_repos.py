"""Migrations, and the API-key, data-key and privacy-ledger tables replicas share."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from gateway.auth.apikeys import authenticate, create_key
from gateway.backends.postgres.migrations import MIGRATIONS, applied, upgrade
from gateway.backends.postgres.pool import PgDatabase
from gateway.backends.postgres.repos import PgApiKeyRepository, PgDataKeyRepository, PgPrivacyLedger
from gateway.crypto import WrappedKey
from gateway.policy.loader import load_policy
from gateway.privacy.accountant import Release
from gateway.privacy.budget import check_budget
from tests.unit.backends.postgres.pgkit import TempSchema

REPO = Path(__file__).resolve().parents[4]


def test_when_upgraded_twice_then_the_second_run_applies_nothing(db: PgDatabase) -> None:
    assert upgrade(db) == []
    assert applied(db) == [m.version for m in MIGRATIONS]


def test_when_replicas_upgrade_at_once_then_each_migration_is_applied_exactly_once(schema: TempSchema) -> None:
    dbs = [PgDatabase(schema.url, max_size=1) for _ in range(3)]
    results: list[list[int]] = []
    threads = [threading.Thread(target=lambda d=d: results.append(upgrade(d))) for d in dbs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(v for r in results for v in r) == [m.version for m in MIGRATIONS]
    for d in dbs:
        d.close()


def test_when_a_key_is_created_through_one_replica_then_another_authenticates_it(schema: TempSchema) -> None:
    one, other = PgDatabase(schema.url, max_size=1), PgDatabase(schema.url, max_size=1)
    upgrade(one)
    key, record = create_key(PgApiKeyRepository(one), "acme", "alice", "writer")
    assert authenticate(PgApiKeyRepository(other), key).key_id == record.key_id
    assert PgApiKeyRepository(other).revoke(record.key_id, "2025-01-01T00:00:00+00:00")
    assert [r.revoked_at for r in PgApiKeyRepository(one).list("acme")] == ["2025-01-01T00:00:00+00:00"]
    one.close()
    other.close()


def test_when_data_keys_are_put_twice_then_the_first_is_kept_and_shredding_removes_all(db: PgDatabase) -> None:
    repo = PgDataKeyRepository(db)
    now = datetime(2025, 1, 1, tzinfo=UTC)
    repo.put(WrappedKey("acme", 1, 1, b"first", now))
    repo.put(WrappedKey("acme", 1, 1, b"racing", now))
    repo.put(WrappedKey("acme", 2, 1, b"second", now))
    assert repo.get("acme", 1).wrapped == b"first"  # type: ignore[union-attr]
    assert repo.active("acme").version == 2  # type: ignore[union-attr]
    repo.replace(WrappedKey("acme", 1, 2, b"rewrapped", now))
    assert [(k.version, k.kek_version) for k in repo.all()] == [(1, 2), (2, 1)]
    assert repo.delete_tenant("acme") == 2 and repo.active("acme") is None


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
    assert check_budget(ledger, "acme", "docs", tight, [b"a"]).exceeded is False  # a repeat costs nothing
    assert check_budget(ledger, "acme", "docs", tight, [b"z"]).exceeded is True
