"""Key lifecycle (issue 22): a rotation keeps the key id, both secrets work within the grace window and only the
new one after it; the last use is recorded to the minute without a write per request; old databases gain the
columns; ``gateway apikey rotate`` and ``list`` do it from the CLI, audited."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.auth.apikeys import authenticate, create_key, parse_grace, rotate_key
from gateway.auth.last_used import LastUsed
from gateway.backends.sqlite.apikeys import SQLiteApiKeyRepository
from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.errors import BadRequest, Unauthenticated

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@pytest.fixture
def repo(tmp_path: Path) -> SQLiteApiKeyRepository:
    return SQLiteApiKeyRepository(SQLiteDatabase(tmp_path / "g.db"))


def test_when_a_key_is_rotated_then_both_secrets_work_until_the_grace_ends_and_the_id_stays(
    repo: SQLiteApiKeyRepository
) -> None:
    old, record = create_key(repo, "acme", "svc", "writer", now=T0)
    new, before = rotate_key(repo, record.key_id, timedelta(hours=24), now=T0)
    assert new != old and new[3:19] == old[3:19] == record.key_id and before == record
    for key in (old, new):
        assert authenticate(repo, key, now=T0 + timedelta(hours=23)).key_id == record.key_id
    assert authenticate(repo, new, now=T0 + timedelta(hours=25)).subject == "svc"
    with pytest.raises(Unauthenticated):
        authenticate(repo, old, now=T0 + timedelta(hours=25))


def test_when_rotated_twice_then_only_the_latest_two_secrets_work(repo: SQLiteApiKeyRepository) -> None:
    first, record = create_key(repo, "acme", "svc", "writer", now=T0)
    second, _ = rotate_key(repo, record.key_id, timedelta(hours=1), now=T0)
    third, _ = rotate_key(repo, record.key_id, timedelta(hours=1), now=T0)
    assert authenticate(repo, second, now=T0).key_id == authenticate(repo, third, now=T0).key_id
    with pytest.raises(Unauthenticated):
        authenticate(repo, first, now=T0)


def test_when_the_grace_is_zero_then_the_old_secret_stops_at_once(repo: SQLiteApiKeyRepository) -> None:
    old, record = create_key(repo, "acme", "svc", "writer", now=T0)
    rotate_key(repo, record.key_id, parse_grace("0"), now=T0)
    with pytest.raises(Unauthenticated):
        authenticate(repo, old, now=T0)


def test_when_a_revoked_or_unknown_key_is_rotated_then_it_is_refused(repo: SQLiteApiKeyRepository) -> None:
    _, record = create_key(repo, "acme", "svc", "writer", now=T0)
    repo.revoke(record.key_id, T0.isoformat())
    for key_id in (record.key_id, "0123456789abcdef"):
        with pytest.raises(BadRequest, match="no active key"):
            rotate_key(repo, key_id, timedelta(hours=1), now=T0)


@pytest.mark.parametrize(("text", "seconds"), [("0", 0), ("90s", 90), ("30m", 1800), ("24h", 86400), ("7d", 604800)])
def test_when_a_grace_is_written_then_it_is_read(text: str, seconds: int) -> None:
    assert parse_grace(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "h", "-1h", "31d", "1w", "1e9", "24", "2.5"])
def test_when_a_grace_is_malformed_or_too_long_then_it_is_refused(text: str) -> None:
    with pytest.raises(BadRequest):
        parse_grace(text)


def test_when_keys_are_used_then_the_last_use_is_written_once_per_minute(repo: SQLiteApiKeyRepository) -> None:
    _, record = create_key(repo, "acme", "svc", "writer", now=T0)
    marks = LastUsed(repo)
    for second in range(30):
        marks.mark(record.key_id, T0 + timedelta(seconds=second))
    assert marks.flush() == 1 and marks.flush() == 0
    marks.mark(record.key_id, T0 + timedelta(seconds=40))  # the same minute: nothing new to write
    assert marks.flush() == 0
    marks.mark(record.key_id, T0 + timedelta(minutes=3))
    assert marks.flush() == 1
    assert repo.find(record.key_id).last_used_at == "2026-12-06T12:03:00+00:00"  # type: ignore[union-attr]
    repo.touch({record.key_id: "2026-12-06T12:01:00+00:00"})  # a replica that is behind never moves it back
    assert repo.find(record.key_id).last_used_at == "2026-12-06T12:03:00+00:00"  # type: ignore[union-attr]


def test_when_a_database_predates_rotation_then_it_gains_the_columns_and_its_keys_still_work(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE api_keys (key_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, subject TEXT NOT NULL, "
                     "role TEXT NOT NULL, digest TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT, "
                     "revoked_at TEXT)")
    legacy = SQLiteApiKeyRepository(SQLiteDatabase(path))
    key, record = create_key(legacy, "acme", "svc", "reader", now=T0)
    reopened = SQLiteApiKeyRepository(SQLiteDatabase(path))
    assert authenticate(reopened, key, now=T0).role == "reader"
    assert rotate_key(reopened, record.key_id, timedelta(hours=1), now=T0)[0] != key


def test_when_rotated_from_the_cli_then_the_new_key_prints_alone_and_the_rotation_is_audited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from gateway.cli.commands import main

    for name, value in (("DATA_DIR", tmp_path / "var"), ("KEYS_DIR", tmp_path / "keys")):
        monkeypatch.setenv(f"GATEWAY_{name}", str(value))
    assert main(["keys", "init"]) == 0
    assert main(["apikey", "create", "--tenant", "acme", "--subject", "svc", "--role", "writer"]) == 0
    old = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["apikey", "rotate", old[3:19], "--grace", "2h"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    new = out[-1]
    assert new.startswith(f"gk_{old[3:19]}_") and new != old and "works until" in out[0]
    repo = SQLiteApiKeyRepository(SQLiteDatabase(tmp_path / "var" / "gateway.db"))
    assert authenticate(repo, old).key_id == authenticate(repo, new).key_id
    assert main(["apikey", "list"]) == 0
    listing = capsys.readouterr().out
    assert "previous secret until" in listing and "never used" in listing and new[20:] not in listing
    with sqlite3.connect(tmp_path / "var" / "audit.db") as conn:
        leaves = [json.loads(r[0]) for r in conn.execute("SELECT leaf FROM entries ORDER BY idx")]
    rotation = next(e for e in leaves if e["event"] == "apikey.rotate")
    assert rotation["key_id"] == old[3:19] and rotation["grace_s"] == 7200 and "actor" in rotation
    assert new[20:] not in json.dumps(leaves) and old[20:] not in json.dumps(leaves)
    assert main(["apikey", "rotate", "0123456789abcdef"]) == 1
