"""The API-key table replicas share."""

from __future__ import annotations

from gateway.auth.apikeys import authenticate, create_key
from gateway.backends.postgres.apikeys import PgApiKeyRepository
from gateway.backends.postgres.connection import PgDatabase
from gateway.backends.postgres.migrations import upgrade
from tests.unit.backends.postgres.pgkit import TempSchema


def test_when_a_key_is_created_through_one_replica_then_another_authenticates_it(schema: TempSchema) -> None:
    one, other = PgDatabase(schema.url, max_size=1), PgDatabase(schema.url, max_size=1)
    upgrade(one)
    key, record = create_key(PgApiKeyRepository(one), "acme", "alice", "writer")
    assert authenticate(PgApiKeyRepository(other), key).key_id == record.key_id
    assert PgApiKeyRepository(other).revoke(record.key_id, "2025-01-01T00:00:00+00:00")
    assert [r.revoked_at for r in PgApiKeyRepository(one).list("acme")] == ["2025-01-01T00:00:00+00:00"]
    one.close()
    other.close()


def test_when_a_key_is_rotated_on_one_replica_then_both_secrets_work_on_another_and_last_use_moves_forward(
    schema: TempSchema,
) -> None:
    from datetime import UTC, datetime, timedelta

    from gateway.auth.apikeys import rotate_key

    one, other = PgDatabase(schema.url, max_size=1), PgDatabase(schema.url, max_size=1)
    upgrade(one)
    now = datetime.now(UTC)
    old, record = create_key(PgApiKeyRepository(one), "acme", "svc", "writer", now=now)
    new, _ = rotate_key(PgApiKeyRepository(one), record.key_id, timedelta(hours=1), now=now)
    replica = PgApiKeyRepository(other)
    assert authenticate(replica, old).key_id == authenticate(replica, new).key_id == record.key_id
    replica.touch({record.key_id: "2026-12-06T12:03:00+00:00"})
    PgApiKeyRepository(one).touch({record.key_id: "2026-12-06T12:01:00+00:00"})  # behind: no effect
    assert replica.find(record.key_id).last_used_at == "2026-12-06T12:03:00+00:00"  # type: ignore[union-attr]
    one.close()
    other.close()
