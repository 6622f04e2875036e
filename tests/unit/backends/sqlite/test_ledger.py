"""The privacy ledger in the embedded database beyond the contract (tests/unit/privacy): durable, and a group
rolled back whole."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from gateway.backends.sqlite.ledger import SQLitePrivacyLedger
from gateway.privacy.accountant import Release


def test_when_sqlite_ledger_reopened_then_spend_persists(tmp_path: Path) -> None:
    first = SQLitePrivacyLedger(tmp_path / "p.db")
    first.record("t1", "docs", 0.05, [b"a", b"b"])
    first.close()
    second = SQLitePrivacyLedger(tmp_path / "p.db")
    assert second.record("t1", "docs", 0.05, [b"a"]).releases_new == 0
    assert second.view("t1").total.releases == 2
    second.close()


def test_when_the_sqlite_transaction_fails_midway_then_the_whole_group_rolls_back(tmp_path: Path) -> None:
    ledger = SQLitePrivacyLedger(tmp_path / "p.db")
    with sqlite3.connect(tmp_path / "p.db") as conn:  # the database refuses the second call's digest
        conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON privacy_releases WHEN NEW.digest = X'62' "
                     "BEGIN SELECT RAISE(ABORT, 'refused'); END")
    with pytest.raises(sqlite3.IntegrityError, match="refused"):
        ledger.record_many([Release("t1", "docs", 0.05, [b"a"]), Release("t1", "docs", 0.05, [b"b"])])
    assert ledger.view("t1").total.releases == 0
    assert ledger.record("t1", "docs", 0.05, [b"a"]).releases_new == 1  # the connection is usable again
    ledger.close()


def test_when_the_ledger_is_written_then_only_the_owner_can_read_its_files(tmp_path: Path) -> None:
    # Regression: privacy.db and its WAL were created 0644 (the umask's), unlike the data dir's other databases.
    ledger = SQLitePrivacyLedger(tmp_path / "privacy.db")
    ledger.record("t1", "docs", 0.05, [b"a"])
    files = [p for p in tmp_path.iterdir() if p.name.startswith("privacy.db")]
    assert {p.name for p in files} >= {"privacy.db", "privacy.db-wal"}
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in files} == {p.name: 0o600 for p in files}
    ledger.close()
