"""The wrapped data-key table replicas share."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.backends.postgres.connection import PgDatabase
from gateway.backends.postgres.datakeys import PgDataKeyRepository
from gateway.crypto import WrappedKey


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
