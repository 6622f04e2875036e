"""Fixtures for the crypto tests: the fixed KEK, the fake clock, every data-key repository."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.backends.sqlite.datakeys import SQLiteDataKeyRepository
from gateway.crypto import (
    DataKeyRepository,
    Envelope,
    InMemoryDataKeyRepository,
    Keyring,
    SecretBytes,
)
from tests.unit.crypto.crypto_fakes import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def kek() -> Keyring:
    return Keyring(active=1, keys={1: SecretBytes(bytes(range(32)))})


@pytest.fixture(params=["memory", "sqlite-wal", "sqlite-plain"])
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DataKeyRepository]:
    """Every repository implementation: the contract tests run against each."""
    if request.param == "memory":
        yield InMemoryDataKeyRepository()
    elif request.param == "sqlite-wal":
        yield SQLiteDataKeyRepository(SQLiteDatabase(tmp_path / "keys.db"))
    else:
        # One shared connection in Python's default (deferred transaction) mode: commits must still happen.
        conn = sqlite3.connect(tmp_path / "plain.db", check_same_thread=False)
        yield SQLiteDataKeyRepository(lambda: conn)
        conn.close()


@pytest.fixture
def envelope(kek: Keyring, repo: DataKeyRepository, clock: FakeClock) -> Envelope:
    return Envelope(kek, repo, clock=clock)
