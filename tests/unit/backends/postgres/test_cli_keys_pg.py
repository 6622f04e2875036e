"""The KEK commands of the CLI on the shared PostgreSQL database (operator16: `keys retire` always answered
"the database is unavailable": it read the data keys through a pool it had just closed)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from gateway.backends.postgres.connection import PgDatabase, connection_problem
from gateway.backends.postgres.datakeys import PgDataKeyRepository
from gateway.backends.postgres.listen import Listener
from gateway.cli.commands import main
from gateway.crypto import Envelope, RecordContext
from gateway.crypto.kek import KekOptions
from gateway.crypto.keyfiles import init_keys, load_keys
from tests.unit.backends.postgres.pgkit import BASE_URL, TempSchema


@pytest.fixture
def keys_dir(schema: TempSchema, db: PgDatabase, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", schema.url)
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("GATEWAY_KEYS_DIR", str(tmp_path / "keys"))
    init_keys(tmp_path / "keys")
    kek = load_keys(tmp_path / "keys", KekOptions()).kek
    Envelope(kek, PgDataKeyRepository(db)).encrypt(RecordContext("acme", "docs", "r1", "1.0"), b"vector")
    return tmp_path / "keys"


def _kek_versions(keys_dir: Path) -> list[str]:
    return sorted(json.loads((keys_dir / "kek.json").read_text())["keys"])


def test_when_a_kek_version_still_wraps_a_data_key_on_postgres_then_retire_refuses_it(
    keys_dir: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["keys", "rotate"]) == 0  # acme's data key 1 stays wrapped under KEK 1
    assert main(["keys", "retire", "1"]) == 1
    assert "still wraps data keys" in capsys.readouterr().err
    assert _kek_versions(keys_dir) == ["1", "2"]


def test_when_every_data_key_is_rewrapped_on_postgres_then_the_old_kek_version_is_retired(
    keys_dir: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["keys", "rotate", "--rewrap"]) == 0
    assert main(["keys", "retire", "1"]) == 0
    assert "KEK version 1 retired" in capsys.readouterr().out
    assert _kek_versions(keys_dir) == ["2"]


def _replica_lock_holders(schema: TempSchema) -> int:
    rows = schema.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND mode = 'ShareLock' "
                      "AND granted AND objid = hashtext(%s || ':replica')::oid", (schema.name,))
    return int(rows[0][0])


def test_when_a_replica_serves_the_database_then_kek_rotation_and_shredding_are_refused_until_it_stops(
    keys_dir: Path, schema: TempSchema, capsys: pytest.CaptureFixture[str],
) -> None:
    # operator16: `keys rotate` from a host that is not a replica ran; the replicas then failed every write.
    replica = Listener(schema.url, {"noop": lambda: None}, poll_interval_s=5.0)
    replica.start()
    try:
        deadline = time.monotonic() + 10
        while _replica_lock_holders(schema) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert main(["keys", "rotate"]) == 2
        assert main(["tenant", "shred", "acme", "--confirm", "acme"]) == 2
        err = capsys.readouterr().err
        assert "replicas are serving this database; KEK rotation needs every one stopped" in err
        assert "shredding needs every one stopped" in err
        assert _kek_versions(keys_dir) == ["1"]
    finally:
        replica.stop()
    assert main(["keys", "rotate"]) == 0  # the replica's connection closed: its lock went with it
    assert _kek_versions(keys_dir) == ["1", "2"]


def test_when_the_database_url_names_a_database_that_does_not_exist_then_the_command_says_what_to_check(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = urlunsplit(urlsplit(BASE_URL)._replace(path="/no_such_database_16"))
    monkeypatch.setenv("GATEWAY_DATABASE_URL", missing)
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("GATEWAY_KEYS_DIR", str(tmp_path / "keys"))
    assert main(["apikey", "list"]) == 2
    said = capsys.readouterr().err
    assert "the PostgreSQL database that database_url names could not be reached" in said
    assert "try again shortly" not in said  # a caller's words, not an operator's
    assert "the database that database_url names does not exist" in said  # why, in the gateway's words
    assert "no_such_database_16" not in said  # no name from the URL


@pytest.mark.parametrize(("url", "why"), [
    ("postgresql://no_such_role_17@127.0.0.1:5432/test", "the role (user) that database_url names does not exist"),
    ("postgresql://postgres@127.0.0.1:1/test", "nothing listens at the host and port"),
    ("postgresql://postgres@no-such-host.invalid:5432/test", "does not resolve"),
])
def test_when_a_connection_is_refused_then_the_reason_is_named_without_the_urls_parts(url: str, why: str) -> None:
    problem = connection_problem(url)
    assert problem is not None and why in problem
    assert not any(part in problem for part in ("no_such_role_17", "no-such-host", "127.0.0.1"))
    assert connection_problem(BASE_URL) is None
