"""The gateway's own syslog forwarder: what each checkpoint covers, once, resuming from the saved index."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from audit.backend import AuditLogBackend
from audit.checkpoint import CheckpointSigner
from audit.keys import Ed25519PrivateKey
from audit.sqlite_log import SQLiteAuditLog
from gateway.auditing.forwarder import POSITION, STATE_FILE, SyslogForwarder, syslog_forwarder
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
    assert _log(tmp_path).follow_position(POSITION) == 7  # in the audit database, not a file of the pod


def test_when_the_receiver_is_away_then_nothing_counts_as_delivered(tmp_path: Path) -> None:
    log = _log(tmp_path)
    _entries(log, 2)
    away = Receiver()
    port = away.port
    away.close()
    forwarder = SyslogForwarder(log, f"tcp://127.0.0.1:{port}", tmp_path)
    assert not forwarder.forward_once()
    assert log.follow_position(POSITION) is None and not (tmp_path / STATE_FILE).exists()
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



@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def open_log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], AuditLogBackend]]:
    """Opens the audit log anew (a gateway start) on one database that outlives the pods."""
    signer = CheckpointSigner(Ed25519PrivateKey.from_private_bytes(bytes(range(32))), "gateway.test-audit")
    if request.param == "sqlite":
        (tmp_path / "db").mkdir()
        yield lambda: SQLiteAuditLog(tmp_path / "db" / "audit.db", signer=signer, origin="gateway.test/audit")
        return
    from audit.pg_log import PgAuditLog
    from tests.unit.backends.postgres.pgkit import TempSchema

    schema = TempSchema()
    try:
        yield lambda: PgAuditLog(schema.url, signer, "gateway.test/audit", checkpoint_interval_s=60)
    finally:
        schema.drop()


def _append(log: AuditLogBackend, n: int) -> None:
    for i in range(n):
        log.append({"v": 1, "event": "auth.failure", "decision": "deny", "tenant": None, "n": i})
    log.checkpoint_now()


def test_when_the_pod_restarts_with_an_empty_data_folder_then_the_forwarder_resumes_without_gap_or_repeat(
    tmp_path: Path, receiver: Receiver, open_log: Callable[[], AuditLogBackend]
) -> None:
    # fixes18b: the resume point was <data dir>/audit_syslog.json; on Kubernetes the data folder is an emptyDir, so a
    # restarted pod began again at entry 0 and the SIEM got the whole log a second time.
    url = f"tcp://127.0.0.1:{receiver.port}"
    for pod, n in (("pod-1", 3), ("pod-2", 4), ("pod-3", 2)):
        log = open_log()
        _append(log, n)
        (tmp_path / pod).mkdir()  # a new, empty data folder each time
        forwarder = SyslogForwarder(log, url, tmp_path / pod)
        assert forwarder.forward_once() and forwarder.forward_once()
        forwarder.close()
        log.close()
    wait_for(lambda: len(receiver.messages) >= 9)
    time.sleep(0.2)  # a repeat would arrive behind the last of them
    assert receiver.indexes() == list(range(9))
    log = open_log()
    try:
        assert log.follow_position(POSITION) == 9
    finally:
        log.close()


def test_when_an_older_gateway_left_its_position_in_the_data_folder_then_it_carries_over_once(
    tmp_path: Path, receiver: Receiver, open_log: Callable[[], AuditLogBackend]
) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / STATE_FILE).write_text(json.dumps({"next": 2}))  # entries 0 and 1 went out before
    log = open_log()
    try:
        _append(log, 3)
        forwarder = SyslogForwarder(log, f"tcp://127.0.0.1:{receiver.port}", tmp_path / "var")
        assert forwarder.forward_once()
        forwarder.close()
        wait_for(lambda: len(receiver.messages) >= 1)
        assert receiver.indexes() == [2] and log.follow_position(POSITION) == 3
    finally:
        log.close()


def test_when_several_replicas_forward_then_one_sends_at_a_time_and_another_takes_over_where_it_stopped(
    tmp_path: Path, receiver: Receiver, open_log: Callable[[], AuditLogBackend]
) -> None:
    # fixes18b: every replica of the Kubernetes Deployment has the same settings, so each one forwarded: with the
    # position shared in the database they raced on it (repeats); each with its own file, each sent the whole log.
    url = f"tcp://127.0.0.1:{receiver.port}"
    first, second = open_log(), open_log()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, b = SyslogForwarder(first, url, tmp_path / "a"), SyslogForwarder(second, url, tmp_path / "b")
    try:
        _append(first, 3)
        assert a.forward_once() and b.forward_once() and a.forward_once() and b.forward_once()
        assert first.hold_follow_role(POSITION) and not second.hold_follow_role(POSITION)  # a sends, b waits
        a.close()
        first.close()  # the replica that held the role stops: the other one takes it, from the shared position
        _append(second, 2)
        assert b.forward_once() and b.forward_once() and second.hold_follow_role(POSITION)
    finally:
        b.close()
        second.close()
    wait_for(lambda: len(receiver.messages) >= 5)
    time.sleep(0.2)
    assert receiver.indexes() == list(range(5))
