"""``gateway-audit follow``: checkpointed entries once each, in order, resumable, proven; and as syslog messages."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from audit.cli import main
from audit.errors import VerificationError
from audit.follow import Follower, Progress, SqliteSource
from audit.keys import load_public_key
from audit.sqlite_log import SQLiteAuditLog
from audit.syslog import SyslogSender, SyslogTarget
from tests.syslogkit import RFC5424, Receiver, wait_for
from tests.unit.audit.audit_testkit import make_entry

OpenLog = Callable[..., SQLiteAuditLog]


def _append(log: SQLiteAuditLog, lo: int, hi: int) -> None:
    for i in range(lo, hi):
        log.append(make_entry(i))
    log.checkpoint_now()


def _follow(tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> list[dict[str, object]]:
    assert main(["follow", "--data-dir", str(tmp_path), "--once", *extra]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_when_followed_with_a_state_file_then_a_restart_resumes_without_gap_or_repeat(
    tmp_path: Path, open_log: OpenLog, capsys: pytest.CaptureFixture[str], public_key_file: Path
) -> None:
    log = open_log()
    _append(log, 0, 5)
    state = tmp_path / "follow.json"
    first = _follow(tmp_path, capsys, "--state", str(state), "--public-key", str(public_key_file))
    log.append(make_entry(99))  # not checkpointed yet: nothing vouches for it, so it waits
    assert _follow(tmp_path, capsys, "--state", str(state)) == []
    _append(log, 5, 8)
    second = _follow(tmp_path, capsys, "--state", str(state), "--public-key", str(public_key_file))
    indexes = [r["index"] for r in first + second]
    assert indexes == list(range(9))
    assert second[-1]["checkpoint"]["size"] == 9 and second[-1]["entry"]["request_id"] == "req-7"  # type: ignore[index]
    assert json.loads(state.read_text()) == {"next": 9}


def test_when_since_is_given_then_the_stream_starts_there(
    tmp_path: Path, open_log: OpenLog, capsys: pytest.CaptureFixture[str]
) -> None:
    _append(open_log(), 0, 6)
    assert [r["index"] for r in _follow(tmp_path, capsys, "--since", "4")] == [4, 5]


def test_when_a_stored_entry_is_rewritten_then_a_verifying_follower_refuses_the_log(
    tmp_path: Path, open_log: OpenLog, public_key_file: Path
) -> None:
    log = open_log()
    _append(log, 0, 4)
    log.close()
    with sqlite3.connect(tmp_path / "audit.db") as conn:
        forged = json.dumps(make_entry(1, decision="allow")).encode()
        conn.execute("UPDATE entries SET leaf = ? WHERE idx = 1", (forged,))
    follower = Follower(SqliteSource(tmp_path), Progress(None, 3), load_public_key(public_key_file))
    with pytest.raises(VerificationError, match="signed root"):
        follower.poll()  # entry 1 is before the start, and still proven


def test_when_the_log_is_rolled_back_then_the_follower_refuses_it(
    tmp_path: Path, open_log: OpenLog
) -> None:
    log = open_log()
    _append(log, 0, 2)
    _append(log, 2, 4)
    follower = Follower(SqliteSource(tmp_path), Progress(None, 0))
    follower.delivered(follower.poll()[-1].index + 1)
    log.close()
    with sqlite3.connect(tmp_path / "audit.db") as conn:  # a host puts back an older state of the log
        conn.execute("DELETE FROM checkpoints WHERE size > 2")
    with pytest.raises(VerificationError, match="rolled back"):
        follower.poll()


def test_when_the_log_is_rolled_back_between_two_runs_then_the_resumed_follower_refuses_it(
    tmp_path: Path, open_log: OpenLog, capsys: pytest.CaptureFixture[str], public_key_file: Path
) -> None:
    # Regression (auditor15): a follower resumed from its state file after the log was put back to an older
    # signed checkpoint printed nothing and exited 0, waiting for entries it had already delivered.
    log = open_log()
    _append(log, 0, 2)
    _append(log, 2, 4)
    log.close()
    state = tmp_path / "follow.json"
    assert len(_follow(tmp_path, capsys, "--state", str(state), "--public-key", str(public_key_file))) == 4
    with sqlite3.connect(tmp_path / "audit.db") as conn:  # a host puts back an older state of the log
        conn.execute("DELETE FROM entries WHERE idx >= 2")
        conn.execute("DELETE FROM checkpoints WHERE size > 2")
    argv = ["follow", "--data-dir", str(tmp_path), "--once", "--state", str(state)]
    assert main([*argv, "--public-key", str(public_key_file)]) == 1
    assert "rolled back" in capsys.readouterr().err
    assert main(argv) == 1  # without a key too: what was delivered was signed
    assert json.loads(state.read_text()) == {"next": 4}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def test_when_sent_to_syslog_then_each_entry_is_one_rfc5424_message_with_its_index(
    tmp_path: Path, open_log: OpenLog, receiver: Receiver
) -> None:
    _append(open_log(), 0, 4)
    follower = Follower(SqliteSource(tmp_path), Progress(None, 0))
    sender = SyslogSender(SyslogTarget.parse(f"tcp://127.0.0.1:{receiver.port}"), hostname="gw-1")
    batch = follower.poll()
    assert sender.send(batch)
    sender.close()
    wait_for(lambda: len(receiver.messages) == 4)
    parsed = [RFC5424.match(m) for m in receiver.messages]
    assert all(parsed), receiver.messages[0][:200]
    assert [int(m.group(3)) for m in parsed if m] == [0, 1, 2, 3]
    pri = [int(m.group(1)) for m in parsed if m]
    assert pri == [13 * 8 + 6, 13 * 8 + 6, 13 * 8 + 4, 13 * 8 + 4]  # allow, allow, then block and deny: warnings
    assert json.loads(parsed[2].group(5))["decision"] == "block"  # type: ignore[union-attr]


def test_when_the_receiver_drops_the_connection_then_the_batch_is_sent_again_and_nothing_is_lost(
    tmp_path: Path, open_log: OpenLog, receiver: Receiver
) -> None:
    log = open_log()
    _append(log, 0, 3)
    follower = Follower(SqliteSource(tmp_path), Progress(tmp_path / "s.json", 0))
    sender = SyslogSender(SyslogTarget.parse(f"tcp://127.0.0.1:{receiver.port}"), hostname="gw-1")
    batch = follower.poll()
    assert sender.send(batch)
    follower.delivered(batch[-1].index + 1)
    wait_for(lambda: len(receiver.messages) == 3)
    receiver.drop()  # the receiver restarts between two batches: the connection breaks
    time.sleep(0.1)
    _append(log, 3, 6)
    delivered = False
    for _ in range(20):
        batch = follower.poll()
        if sender.send(batch):
            follower.delivered(batch[-1].index + 1)
            delivered = True
            break
    assert delivered
    sender.close()
    wait_for(lambda: {3, 4, 5} <= set(receiver.indexes()))
    assert set(receiver.indexes()) == set(range(6))


def test_when_the_syslog_target_is_malformed_then_follow_says_so(tmp_path: Path, open_log: OpenLog) -> None:
    _append(open_log(), 0, 1)
    assert main(["follow", "--data-dir", str(tmp_path), "--once", "--syslog", "udp://x:1"]) == 1
