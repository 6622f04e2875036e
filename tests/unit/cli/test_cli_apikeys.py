"""``gateway apikey create|list`` on both backends: expiry input checked, expired keys shown as such, no secrets."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.auth.apikeys import ApiKeyRecord, ApiKeyRepository
from gateway.backends.sqlite.apikeys import SQLiteApiKeyRepository
from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.cli.commands import main
from gateway.crypto.keyfiles import init_keys

REPO = Path(__file__).resolve().parents[3]
FORMAT_ERROR = "error: expires must be an ISO 8601 time with a time zone, e.g. 2027-01-31T00:00:00+00:00\n"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def repo(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ApiKeyRepository]:
    """The repository the CLI writes to, with the CLI's settings pointed at it."""
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("GATEWAY_KEYS_DIR", str(tmp_path / "keys"))
    (tmp_path / "var").mkdir()
    init_keys(tmp_path / "keys")
    if request.param == "sqlite":
        yield SQLiteApiKeyRepository(SQLiteDatabase(tmp_path / "var" / "gateway.db"))
        return
    from gateway.backends.postgres.apikeys import PgApiKeyRepository
    from gateway.backends.postgres.connection import PgDatabase
    from gateway.backends.postgres.migrations import upgrade
    from tests.unit.backends.postgres.pgkit import TempSchema

    schema = TempSchema()
    db = PgDatabase(schema.url, max_size=1)
    try:
        upgrade(db)
        monkeypatch.setenv("GATEWAY_DATABASE_URL", schema.url)
        yield PgApiKeyRepository(db)
    finally:
        db.close()
        schema.drop()


def _create(*extra: str) -> int:
    return main(["apikey", "create", "--tenant", "acme", "--subject", "eve", "--role", "reader", *extra])


def _record(key_id: str, expires_at: str | None = None, revoked_at: str | None = None) -> ApiKeyRecord:
    return ApiKeyRecord(key_id, "acme", "eve", "reader", "d" * 64, "2025-01-01T00:00:00+00:00", expires_at, revoked_at)


@pytest.mark.parametrize("expires", [
    "notadate",  # regression: the traceback a new user saw
    "2027-01-31",  # a date alone: no time zone
    "2027-01-31T00:00:00",  # a naive time: would be read in the local zone of the CLI's host
    "9999-12-31T23:00:00-05:00",  # past the last representable UTC time
])
def test_when_expires_is_not_a_zoned_iso_time_then_create_prints_one_error_line_and_creates_nothing(
    repo: ApiKeyRepository, capsys: pytest.CaptureFixture[str], expires: str,
) -> None:
    assert _create("--expires", expires) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", FORMAT_ERROR)
    assert repo.list() == []


def test_when_expires_is_in_the_past_then_create_is_refused_and_nothing_is_created(
    repo: ApiKeyRepository, capsys: pytest.CaptureFixture[str],
) -> None:
    assert _create("--expires", "2020-01-01T00:00:00+00:00") == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", "error: expires must be in the future\n")
    assert repo.list() == []


def test_when_expires_is_a_future_zoned_time_then_the_key_is_created_with_its_expiry_in_utc(
    repo: ApiKeyRepository, capsys: pytest.CaptureFixture[str],
) -> None:
    assert _create("--expires", "2999-01-31T05:00:00+05:00") == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("gk_")
    assert [r.expires_at for r in repo.list()] == ["2999-01-31T00:00:00+00:00"]


def test_when_keys_have_expired_or_expire_then_list_shows_status_and_expiry(
    repo: ApiKeyRepository, capsys: pytest.CaptureFixture[str],
) -> None:
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat(timespec="seconds")
    repo.insert(_record("000000000000000a"))
    repo.insert(_record("000000000000000b", expires_at=past))
    repo.insert(_record("000000000000000c", expires_at="2999-01-31T00:00:00+00:00"))
    repo.insert(_record("000000000000000d", expires_at=past, revoked_at="2025-01-02T00:00:00+00:00"))
    assert main(["apikey", "list", "--tenant", "acme"]) == 0
    created = "created 2025-01-01T00:00:00+00:00"
    assert capsys.readouterr().out.splitlines() == [
        f"000000000000000a  acme  eve  reader  active  {created}  never used",
        f"000000000000000b  acme  eve  reader  expired  {created}  expires {past}  never used",
        f"000000000000000c  acme  eve  reader  active  {created}  expires 2999-01-31T00:00:00+00:00  never used",
        f"000000000000000d  acme  eve  reader  revoked  {created}  expires {past}  never used",
    ]



def test_when_a_key_names_an_upper_case_tenant_then_list_shows_it_invalid_and_says_to_re_issue_it(
    repo: ApiKeyRepository, capsys: pytest.CaptureFixture[str],
) -> None:
    # fixes18b: a key made before tenant ids were lower case listed as "active" (and authenticated as "ACME").
    repo.insert(_record("000000000000000a"))
    repo.insert(ApiKeyRecord("000000000000000e", "ACME", "eve", "reader", "d" * 64, "2025-01-01T00:00:00+00:00",
                             None, None))
    assert main(["apikey", "list"]) == 0
    out, err = capsys.readouterr()
    assert "000000000000000e  ACME  eve  reader  invalid-tenant  created" in out
    assert "000000000000000a  acme  eve  reader  active  created" in out
    assert err.startswith("warning: 1 key(s) (000000000000000e) have a tenant id that is not valid") and "re" in err


def test_when_keys_are_listed_then_no_secret_or_digest_is_printed(
    repo: ApiKeyRepository, capsys: pytest.CaptureFixture[str],
) -> None:
    assert _create("--expires", "2999-01-31T00:00:00Z") == 0
    key = capsys.readouterr().out.splitlines()[-1]
    assert main(["apikey", "list"]) == 0
    out = capsys.readouterr().out
    (record,) = repo.list()
    assert record.key_id in out
    secret = key.split("_", 2)[2]  # gk_<16 hex id>_<secret>; the secret itself may hold "_"
    assert len(secret) == 43
    assert secret not in out and record.digest not in out


def test_when_the_operations_guide_shows_list_output_then_the_cli_prints_exactly_that(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    line = re.compile(r"^([0-9a-f]{16})  (\S+)  (\S+)  (\S+)  (\S+)  created (\S+)(?:  expires (\S+))?"
                      r"(?:  previous secret until (\S+))?  (?:last used (\S+)|never used)$")
    shown = [m for m in map(line.match, (REPO / "docs" / "operations.md").read_text().splitlines()) if m]
    assert shown, "docs/operations.md shows no `gateway apikey list` output"
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path))
    repo = SQLiteApiKeyRepository(SQLiteDatabase(tmp_path / "gateway.db"))
    for m in shown:
        key_id, tenant, subject, role, status, created, expires, previous, used = m.groups()
        revoked = created if status == "revoked" else None
        repo.insert(ApiKeyRecord(key_id, tenant, subject, role, "d" * 64, created, expires, revoked,
                                 "e" * 64 if previous else None, previous, used))
    assert main(["apikey", "list"]) == 0
    assert capsys.readouterr().out.splitlines() == [m.group(0) for m in shown]


def test_when_keys_are_listed_where_no_gateway_data_is_then_the_command_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    # Regression: run from another directory, `gateway apikey list` printed nothing and left an empty var/gateway.db.
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("GATEWAY_DATABASE_URL", raising=False)
    assert main(["apikey", "list"]) == 2
    assert f"no gateway database at {tmp_path / 'var' / 'gateway.db'}" in capsys.readouterr().err
    assert not (tmp_path / "var").exists()


def test_when_a_key_is_created_from_a_shell_then_the_terminal_shows_its_two_lines_and_no_log_line(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "GATEWAY_DATA_DIR": str(tmp_path / "var"), "GATEWAY_KEYS_DIR": str(tmp_path / "keys"),
           "GATEWAY_POLICY_DIR": str(REPO / "policy")}
    gateway = str(Path(sys.executable).parent / "gateway")
    subprocess.run([gateway, "keys", "init"], env=env, check=True, capture_output=True)
    done = subprocess.run([gateway, "apikey", "create", "--tenant", "acme", "--subject", "eve", "--role", "reader"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == ""  # "INFO audit.sqlite_log this process now signs ..." was here
    assert re.fullmatch(r"created API key [0-9a-f]{16} for eve \(reader\) in tenant acme\ngk_\S+\n", done.stdout)
