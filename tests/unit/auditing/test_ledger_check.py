"""A privacy ledger behind the signed audit log (deleted, rolled back to an older copy, rows cut while the gateway
was stopped) is refused at start; a normal restart is not; an audited acceptance is the way out.
Regression ledger19: a deleted or older ``privacy.db`` reset every tenant's spend, and its budget, unnoticed."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from audit.checkpoint import CheckpointSigner
from audit.keys import Ed25519PrivateKey
from audit.sqlite_log import SQLiteAuditLog
from gateway.auditing.ledger_check import ACCEPTED, STATE_FILE, check_ledger
from gateway.backends.sqlite.ledger import SQLitePrivacyLedger
from gateway.errors import ConfigurationError
from gateway.privacy.accountant import Release


def _log(path: Path) -> SQLiteAuditLog:
    signer = CheckpointSigner(Ed25519PrivateKey.from_private_bytes(bytes(range(32))), "test-audit")
    return SQLiteAuditLog(path / "audit.db", signer=signer, origin="test/audit")


def _charge(ledger: SQLitePrivacyLedger, log: SQLiteAuditLog, tenant: str, scope: str, first: int, n: int) -> int:
    """One request's charge and its audit entry, as the pipeline writes them."""
    digests = [i.to_bytes(32, "big") for i in range(first, first + n)]
    [spend] = ledger.record_many([Release(tenant, scope, 0.01, digests)])
    log.append({"v": 1, "event": "embeddings.create", "decision": "allow", "tenant": tenant,
                "privacy": {"scope": scope, "releases_new": spend.releases_new,
                            "tenant_releases": spend.tenant_releases}})
    return spend.tenant_releases


def _secret(tenant: str, purpose: str) -> bytes:
    return f"{tenant}/{purpose}".encode()


@pytest.fixture
def log(tmp_path: Path) -> SQLiteAuditLog:
    opened = _log(tmp_path)
    yield opened
    opened.close()


def _restart(data: Path, log: SQLiteAuditLog) -> None:
    ledger = SQLitePrivacyLedger(data / "privacy.db")
    try:
        check_ledger(ledger, log, data, _secret)
    finally:
        ledger.close()


def test_when_restarted_normally_then_the_ledger_is_not_behind(tmp_path: Path, log: SQLiteAuditLog) -> None:
    data = tmp_path
    ledger = SQLitePrivacyLedger(data / "privacy.db")
    _charge(ledger, log, "acme", "embeddings", 0, 3)
    _charge(ledger, log, "acme", "embeddings", 0, 3)  # repeats: free
    _charge(ledger, log, "globex", "docs", 0, 2)
    check_ledger(ledger, log, data, _secret)
    ledger.close()
    _restart(data, log)
    _restart(data, log)  # from the saved progress


def test_when_the_ledger_is_deleted_between_starts_then_the_start_is_refused(
    tmp_path: Path, log: SQLiteAuditLog
) -> None:
    ledger = SQLitePrivacyLedger(tmp_path / "privacy.db")
    _charge(ledger, log, "acme", "embeddings", 0, 3)
    check_ledger(ledger, log, tmp_path, _secret)  # the first start's progress is saved: the next start reads none of it
    ledger.close()
    for name in ("privacy.db", "privacy.db-wal", "privacy.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    with pytest.raises(ConfigurationError) as refused:
        _restart(tmp_path, log)
    message = str(refused.value)
    assert "acme (0 releases, the audit log says at least 3)" in message and "accept-ledger" in message


def test_when_the_ledger_is_rolled_back_to_an_older_copy_then_the_start_is_refused(
    tmp_path: Path, log: SQLiteAuditLog
) -> None:
    ledger = SQLitePrivacyLedger(tmp_path / "privacy.db")
    _charge(ledger, log, "acme", "embeddings", 0, 2)
    ledger.close()
    shutil.copy(tmp_path / "privacy.db", tmp_path / "backup.db")
    ledger = SQLitePrivacyLedger(tmp_path / "privacy.db")
    _charge(ledger, log, "acme", "docs", 10, 5)
    ledger.close()
    shutil.copy(tmp_path / "backup.db", tmp_path / "privacy.db")
    (tmp_path / STATE_FILE).unlink(missing_ok=True)  # the progress file too: the whole log is read again
    with pytest.raises(ConfigurationError, match=r"acme \(2 releases, the audit log says at least 7\)"):
        _restart(tmp_path, log)


def test_when_rows_are_cut_from_the_ledger_then_the_start_is_refused(tmp_path: Path, log: SQLiteAuditLog) -> None:
    ledger = SQLitePrivacyLedger(tmp_path / "privacy.db")
    _charge(ledger, log, "acme", "embeddings", 0, 4)
    ledger.close()
    with sqlite3.connect(tmp_path / "privacy.db") as conn:
        conn.execute("DELETE FROM privacy_releases")
        conn.execute("DELETE FROM privacy_counts")
    with pytest.raises(ConfigurationError, match="acme"):
        _restart(tmp_path, log)


def test_when_the_loss_is_accepted_on_the_record_then_the_start_goes_on_and_later_charges_count(
    tmp_path: Path, log: SQLiteAuditLog
) -> None:
    ledger = SQLitePrivacyLedger(tmp_path / "privacy.db")
    _charge(ledger, log, "acme", "embeddings", 0, 4)
    ledger.close()
    (tmp_path / "privacy.db").unlink()
    log.append({"v": 1, "event": ACCEPTED, "decision": "allow", "tenant": "acme", "audited_releases": 4,
                "ledger_releases": 0})
    _restart(tmp_path, log)
    ledger = SQLitePrivacyLedger(tmp_path / "privacy.db")
    _charge(ledger, log, "acme", "embeddings", 100, 2)
    ledger.close()
    _restart(tmp_path, log)
    (tmp_path / "privacy.db").unlink()  # a second loss after the acceptance is refused again
    with pytest.raises(ConfigurationError, match=r"acme \(0 releases, the audit log says at least 2\)"):
        _restart(tmp_path, log)


def test_when_the_progress_file_is_edited_to_lower_a_mark_then_the_log_is_read_again(
    tmp_path: Path, log: SQLiteAuditLog
) -> None:
    ledger = SQLitePrivacyLedger(tmp_path / "privacy.db")
    _charge(ledger, log, "acme", "embeddings", 0, 3)
    check_ledger(ledger, log, tmp_path, _secret)
    ledger.close()
    path = tmp_path / STATE_FILE
    sealed = json.loads(path.read_text())
    sealed["state"] = sealed["state"].replace('"acme": 3', '"acme": 0')
    path.write_text(json.dumps(sealed))
    (tmp_path / "privacy.db").unlink()
    with pytest.raises(ConfigurationError, match=r"acme \(0 releases, the audit log says at least 3\)"):
        _restart(tmp_path, log)
