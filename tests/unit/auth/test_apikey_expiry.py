"""Expiry of API keys with an injected clock: what ``create_key`` accepts and when a key stops authenticating."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.auth.apikeys import authenticate, create_key, key_status
from gateway.backends.sqlite.apikeys import SQLiteApiKeyRepository
from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.errors import BadRequest, Unauthenticated

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def repo(tmp_path: Path) -> SQLiteApiKeyRepository:
    return SQLiteApiKeyRepository(SQLiteDatabase(tmp_path / "g.db"))


def test_when_the_expiry_is_exactly_now_then_create_is_refused(repo: SQLiteApiKeyRepository) -> None:
    with pytest.raises(BadRequest, match="in the future"):
        create_key(repo, "acme", "eve", "reader", expires_at=NOW.isoformat(), now=NOW)
    assert repo.list() == []


def test_when_the_expiry_passes_then_status_turns_expired_as_authentication_stops(
    repo: SQLiteApiKeyRepository,
) -> None:
    key, record = create_key(repo, "acme", "eve", "reader", expires_at="2026-06-01T14:00:00+01:00", now=NOW)
    assert (record.created_at, record.expires_at) == ("2026-06-01T12:00:00+00:00", "2026-06-01T13:00:00+00:00")
    just_before, at_expiry = NOW + timedelta(minutes=59), NOW + timedelta(hours=1)
    assert key_status(record, just_before) == "active"
    assert authenticate(repo, key, now=just_before).key_id == record.key_id
    assert key_status(record, at_expiry) == "expired"
    with pytest.raises(Unauthenticated):
        authenticate(repo, key, now=at_expiry)
