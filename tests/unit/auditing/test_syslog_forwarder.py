"""The gateway's own syslog forwarder: what each checkpoint covers, once, resuming from the saved index."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit.checkpoint import CheckpointSigner
from audit.keys import Ed25519PrivateKey
from audit.sqlite_log import SQLiteAuditLog
from gateway.auditing.forwarder import STATE_FILE, SyslogForwarder, syslog_forwarder
from gateway.errors import ConfigurationError
from gateway.settings import load_settings
from tests.syslogkit import Receiver, wait_for


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _log(path: Path) -> SQLiteAuditLog:
    signer = CheckpointSigner(Ed25519PrivateKey.from_private_bytes(bytes(range(32))), "gateway.test-audit")
    return SQLiteAuditLog(path / "audit.db", signer=signer, origin="gateway.test/audit")


def _entries(log: SQLiteAuditLog, n: int) -> None:
    for i in range(n):
        log.append({"v": 1, "event": "auth.failure", "decision": "deny", "tenant": None, "n": i})
    log.checkpoint_now()


def test_when_the_gateway_restarts_then_the_forwarder_resumes_without_gap_or_repeat(
    tmp_path: Path, receiver: Receiver
) -> None:
    url = f"tcp://127.0.0.1:{receiver.port}"
    log = _log(tmp_path)
    _entries(log, 3)
    first = SyslogForwarder(log, url, tmp_path)
    assert first.forward_once()
    first.close()
    log.close()
    log = _log(tmp_path)  # the restart: a new log object, a new forwarder, the same data dir
    _entries(log, 4)
    second = SyslogForwarder(log, url, tmp_path)
    assert second.forward_once() and second.forward_once()  # the second finds nothing new
    second.close()
    log.close()
    wait_for(lambda: len(receiver.messages) >= 7)
    assert receiver.indexes() == list(range(7))
    assert json.loads((tmp_path / STATE_FILE).read_text()) == {"next": 7}


def test_when_the_receiver_is_away_then_nothing_counts_as_delivered(tmp_path: Path) -> None:
    log = _log(tmp_path)
    _entries(log, 2)
    away = Receiver()
    port = away.port
    away.close()
    forwarder = SyslogForwarder(log, f"tcp://127.0.0.1:{port}", tmp_path)
    assert not forwarder.forward_once()
    assert not (tmp_path / STATE_FILE).exists()
    back = Receiver(port)
    try:
        assert forwarder.forward_once()
        wait_for(lambda: back.indexes() == [0, 1])
    finally:
        forwarder.close()
        back.close()
        log.close()


def test_when_no_receiver_is_set_then_there_is_no_forwarder_and_a_bad_one_is_refused(tmp_path: Path) -> None:
    log = _log(tmp_path)
    try:
        assert syslog_forwarder(load_settings({}, data_dir=tmp_path), log) is None
    finally:
        log.close()
    with pytest.raises(ConfigurationError, match="audit_syslog"):
        load_settings({"GATEWAY_AUDIT_SYSLOG": "udp://siem:514"})
