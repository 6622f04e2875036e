"""``gateway collections migrate`` refuses a PostgreSQL-backed gateway with a clear error, touching nothing: its
record list, resumable state and run lock are the embedded backend's."""

from __future__ import annotations

import pytest

from gateway.cli.commands import main


def test_when_the_gateway_uses_postgres_then_migrate_refuses_with_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: object,
) -> None:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path))
    code = main(["collections", "migrate", "docs", "--tenant", "acme", "--to", "all-MiniLM-L6-v2@1.1.0"])
    assert code == 2
    err = capsys.readouterr().err
    assert "embedded SQLite backend only" in err and "re-ingest" in err
    assert "nobody" not in err  # the database URL is not echoed
