"""``gateway usage`` on both backends: the operations guide's table printed exactly, CSV, bad days refused, and
the read audited."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.backends.sqlite.usage import SQLiteUsageRepository
from gateway.cli.commands import main
from gateway.crypto.keyfiles import init_keys
from gateway.limits.usage import Usage, UsageRepository

REPO = Path(__file__).resolve().parents[3]
ROW = re.compile(r"^(\d{4}-\d{2}-\d{2})  ([0-9a-f]{16})  (\S+) +(\d+) +(\d+)$")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def repo(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[UsageRepository]:
    """The usage table the CLI reads, with the CLI's settings pointed at it."""
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("GATEWAY_KEYS_DIR", str(tmp_path / "keys"))
    (tmp_path / "var").mkdir()
    init_keys(tmp_path / "keys")
    if request.param == "sqlite":
        yield SQLiteUsageRepository(SQLiteDatabase(tmp_path / "var" / "gateway.db"))
        return
    from gateway.backends.postgres.connection import PgDatabase
    from gateway.backends.postgres.migrations import upgrade
    from gateway.backends.postgres.usage import PgUsageRepository
    from tests.unit.backends.postgres.pgkit import TempSchema

    schema = TempSchema(name=f"quotas_{uuid.uuid4().hex[:12]}")
    db = PgDatabase(schema.url, max_size=1)
    try:
        upgrade(db)
        monkeypatch.setenv("GATEWAY_DATABASE_URL", schema.url)
        yield PgUsageRepository(db)
    finally:
        db.close()
        schema.drop()


def _guide_table() -> list[str]:
    lines = (REPO / "docs" / "operations.md").read_text().splitlines()
    start = lines.index("day         key_id            model             requests  tokens")
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("total"))
    return lines[start:end + 1]


def test_when_the_operations_guide_shows_usage_then_the_cli_prints_exactly_that(
    repo: UsageRepository, capsys: pytest.CaptureFixture[str],
) -> None:
    shown = _guide_table()
    rows = [m.groups() for m in map(ROW.match, shown) if m]
    assert len(rows) == len(shown) - 2, "docs/operations.md shows no `gateway usage` rows"
    repo.add([Usage("acme", key, model, day, int(tokens), int(requests)) for day, key, model, requests, tokens in rows])
    repo.add([Usage("globex", "0" * 16, "all-MiniLM-L6-v2", "2026-12-01", 999, 9)])  # another tenant: never shown
    assert main(["usage", "--tenant", "acme", "--since", "2026-12-01", "--until", "2026-12-02"]) == 0
    assert capsys.readouterr().out.splitlines() == shown


def test_when_csv_is_asked_then_rows_come_with_a_header_and_only_the_days_asked_for(
    repo: UsageRepository, capsys: pytest.CaptureFixture[str],
) -> None:
    repo.add([Usage("acme", "8d703c5cecd242c3", "m", day, 10, 1) for day in ("2026-11-30", "2026-12-01")])
    assert main(["usage", "--tenant", "acme", "--since", "2026-12-01", "--until", "2026-12-31",
                 "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows == [{"day": "2026-12-01", "key_id": "8d703c5cecd242c3", "model": "m", "requests": "1",
                     "tokens": "10"}]


@pytest.mark.parametrize(("args", "message"), [
    (["--since", "2026-02-30"], "not a calendar date"),
    (["--since", "yesterday"], "YYYY-MM-DD"),
    (["--since", "2026-12-02", "--until", "2026-12-01"], "after 'until'"),
])
def test_when_a_day_is_malformed_then_the_cli_exits_2_saying_why(
    repo: UsageRepository, capsys: pytest.CaptureFixture[str], args: list[str], message: str,
) -> None:
    assert main(["usage", "--tenant", "acme", *args]) == 2
    assert message in capsys.readouterr().err


def test_when_usage_is_read_then_the_read_is_audited_with_its_operator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("GATEWAY_KEYS_DIR", str(tmp_path / "keys"))
    init_keys(tmp_path / "keys")
    (tmp_path / "var").mkdir()
    SQLiteUsageRepository(SQLiteDatabase(tmp_path / "var" / "gateway.db"))  # the gateway's database, no usage yet
    assert main(["usage", "--tenant", "acme", "--since", "2026-12-01"]) == 0
    with sqlite3.connect(tmp_path / "var" / "audit.db") as conn:
        entries = [json.loads(r[0]) for r in conn.execute("SELECT leaf FROM entries ORDER BY idx")]
    read = [e for e in entries if e["event"] == "usage.read"]
    assert len(read) == 1 and read[0]["tenant"] == "acme" and read[0]["count"] == 0 and "user" in read[0]["actor"]


def test_when_usage_is_read_where_no_gateway_data_is_then_the_command_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    # Run from another directory, `gateway usage` created an empty var/gateway.db there and showed no usage.
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("GATEWAY_DATABASE_URL", raising=False)
    assert main(["usage", "--tenant", "acme", "--since", "2026-12-01"]) == 2
    assert f"no gateway database at {tmp_path / 'var' / 'gateway.db'}" in capsys.readouterr().err
    assert not (tmp_path / "var").exists()
