"""The data-key table in the embedded database beyond the contract (tests/unit/crypto): durable, and shredded
keys zeroed in the files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.backends.sqlite.datakeys import SQLiteDataKeyRepository
from gateway.crypto import Envelope, Keyring, RecordContext, SecretBytes, WrappedKey

WHEN = datetime(2025, 1, 1, tzinfo=UTC)


def key(tenant: str, version: int, kek_version: int = 1, wrapped: bytes = b"w" * 60) -> WrappedKey:
    return WrappedKey(tenant, version, kek_version, wrapped, WHEN)


@pytest.fixture
def kek() -> Keyring:
    return Keyring(active=1, keys={1: SecretBytes(bytes(range(32)))})


def test_when_sqlite_is_reopened_then_keys_are_still_there(tmp_path: Path) -> None:
    SQLiteDataKeyRepository(SQLiteDatabase(tmp_path / "k.db")).put(key("acme", 1))

    assert SQLiteDataKeyRepository(SQLiteDatabase(tmp_path / "k.db")).get("acme", 1) == key("acme", 1)


def test_when_tenant_is_shredded_then_its_wrapped_key_bytes_are_gone_from_the_files(
    tmp_path: Path, kek: Keyring
) -> None:
    database = SQLiteDatabase(tmp_path / "k.db")
    repo = SQLiteDataKeyRepository(database)
    Envelope(kek, repo).encrypt(RecordContext("acme", "c", "r", "1.0"), b"x")
    stored = repo.get("acme", 1)
    assert stored is not None
    assert any(stored.wrapped in path.read_bytes() for path in tmp_path.iterdir())

    repo.delete_tenant("acme")

    assert not any(stored.wrapped in path.read_bytes() for path in tmp_path.iterdir())
