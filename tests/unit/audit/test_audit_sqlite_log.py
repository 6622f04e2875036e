"""The SQLite log: group commit, durability, checkpoints, proofs, and refusing a corrupted file."""

from __future__ import annotations

import sqlite3
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from audit.canonical import canonical_json
from audit.checkpoint import verify_checkpoint
from audit.errors import AuditError, LogCorruptedError, LogWriteError, ProofError
from audit.keys import Ed25519PrivateKey
from audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from audit.sqlite_log import SQLiteAuditLog
from tests.unit.audit.audit_testkit import make_entry

OpenLog = Callable[..., SQLiteAuditLog]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def test_when_many_threads_append_then_indexes_are_distinct_and_contiguous(open_log: OpenLog) -> None:
    log = open_log()
    got: list[int] = []
    lock = threading.Lock()

    def worker(t: int) -> None:
        futures = [log.submit(make_entry(t * 100 + i)) for i in range(25)]
        with lock:
            got.extend(f.result() for f in futures)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(200))
    assert log.size() == 200


def test_when_entry_is_appended_then_leaf_is_exactly_its_canonical_json(open_log: OpenLog) -> None:
    log = open_log()
    entry = make_entry(3, note="é ü")
    index = log.append(entry)
    assert log.entries(index, index + 1) == [canonical_json(entry)]
    assert log.entry_tenant(index) == "tenant-1"
    assert log.entry_tenant(99) is None


def test_when_log_is_reopened_then_entries_root_and_checkpoint_survive(open_log: OpenLog, tmp_path: Path) -> None:
    log = open_log()
    for i in range(10):
        log.append(make_entry(i))
    root = log.root()
    log.close()
    again = open_log()
    assert again.size() == 10
    assert again.root() == root
    assert again.latest_checkpoint() is not None
    assert again.append(make_entry(10)) == 10


def test_when_file_is_created_then_only_the_owner_can_read_it(open_log: OpenLog, tmp_path: Path) -> None:
    open_log()
    assert stat.S_IMODE((tmp_path / "audit.db").stat().st_mode) == 0o600


def test_when_log_closes_then_final_checkpoint_covers_every_entry(
    open_log: OpenLog, private_key: Ed25519PrivateKey
) -> None:
    log = open_log(checkpoint_interval_s=3600)
    for i in range(5):
        log.append(make_entry(i))
    log.close()
    note = log.latest_checkpoint()
    assert note is not None
    cp = verify_checkpoint(note, private_key.public_key())
    assert (cp.size, cp.root) == (5, log.root())


def test_when_interval_passes_while_entries_arrive_then_a_checkpoint_is_signed(open_log: OpenLog) -> None:
    clock = FakeClock()
    log = open_log(checkpoint_interval_s=60, clock=clock)
    log.append(make_entry(0))
    assert log.latest_checkpoint() is None  # interval not yet elapsed
    clock.now += 61
    log.append(make_entry(1))
    note = log.latest_checkpoint()
    assert note is not None and "\n2\n" in note


def test_when_checkpoint_now_is_called_then_note_matches_current_root(
    open_log: OpenLog, private_key: Ed25519PrivateKey
) -> None:
    log = open_log(checkpoint_interval_s=3600)
    log.append(make_entry(0))
    cp = verify_checkpoint(log.checkpoint_now(), private_key.public_key())
    assert (cp.size, cp.root) == (1, log.root())


def test_when_log_has_no_signer_then_checkpoint_now_raises(open_log: OpenLog) -> None:
    log = open_log(signer=None)
    log.append(make_entry(0))
    with pytest.raises(AuditError, match="no signer"):
        log.checkpoint_now()


def test_when_proofs_are_served_then_they_verify_against_roots(open_log: OpenLog) -> None:
    log = open_log()
    for i in range(13):
        log.append(make_entry(i))
    for size in (1, 7, 13):
        for index in range(size):
            proof = log.inclusion_proof(index, size)
            assert verify_inclusion(index, size, leaf_hash(log.entries(index, index + 1)[0]), proof, log.root(size))
    assert verify_consistency(5, 13, log.root(5), log.root(13), log.consistency_proof(5, 13))
    with pytest.raises(ProofError):
        log.inclusion_proof(13, 13)
    with pytest.raises(ProofError):
        log.consistency_proof(5, 14)


def test_when_database_rejects_the_write_then_futures_fail_and_log_recovers(open_log: OpenLog, tmp_path: Path) -> None:
    log = open_log()
    log.append(make_entry(0))
    other = sqlite3.connect(tmp_path / "audit.db")
    other.execute("CREATE TRIGGER full BEFORE INSERT ON entries BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    other.commit()
    with pytest.raises(LogWriteError, match="write failed"):
        log.append(make_entry(1))
    assert log.size() == 1
    other.execute("DROP TRIGGER full")
    other.commit()
    other.close()
    assert log.append(make_entry(2)) == 1


def test_when_entry_is_not_json_serializable_then_future_fails(open_log: OpenLog) -> None:
    log = open_log()
    with pytest.raises(LogWriteError, match="canonical JSON"):
        log.append({"v": 1, "x": object()})


def test_when_log_is_closed_then_submit_fails(open_log: OpenLog) -> None:
    log = open_log()
    log.close()
    with pytest.raises(LogWriteError, match="closed"):
        log.append(make_entry(0))


def test_when_stored_leaf_was_altered_then_reopen_refuses(open_log: OpenLog, tmp_path: Path) -> None:
    log = open_log()
    for i in range(4):
        log.append(make_entry(i))
    log.close()
    conn = sqlite3.connect(tmp_path / "audit.db")
    conn.execute("UPDATE entries SET leaf = ? WHERE idx = 2", (canonical_json(make_entry(99)),))
    conn.commit()
    conn.close()
    with pytest.raises(LogCorruptedError, match="entry 2"):
        open_log()


def test_when_stored_entry_was_deleted_then_reopen_refuses(open_log: OpenLog, tmp_path: Path) -> None:
    log = open_log()
    for i in range(4):
        log.append(make_entry(i))
    log.close()
    conn = sqlite3.connect(tmp_path / "audit.db")
    conn.execute("DELETE FROM entries WHERE idx = 1")
    conn.commit()
    conn.close()
    with pytest.raises(LogCorruptedError, match="entry 1 is missing"):
        open_log()


def test_when_two_writers_share_one_file_then_they_form_one_log_without_gaps_or_forks(
    open_log: OpenLog, tmp_path: Path
) -> None:
    # The gateway and the operator's CLI both append: the database's write lock serializes them.
    first = open_log()
    second = open_log()
    indexes = []
    for i in range(6):
        writer = first if i % 2 == 0 else second
        indexes.append(writer.append(make_entry(i)))
    assert indexes == list(range(6))
    leaves = first.entries(0, 6)
    assert [leaf_hash(leaf) for leaf in leaves] == [leaf_hash(leaf) for leaf in second.entries(0, 6)]
    assert first.root(6) == second.root(6)


def test_when_two_processes_share_one_file_then_one_signs_checkpoints_covering_both_and_the_other_takes_over(
    open_log: OpenLog, private_key: Ed25519PrivateKey
) -> None:
    # Two logs on one file hold two open file descriptions, so their flocks conflict as two processes' do.
    signer, other = open_log(checkpoint_interval_s=3600), open_log(checkpoint_interval_s=3600)
    signer.append(make_entry(0))
    assert signer.checkpoint_now()  # takes the role
    other.append(make_entry(1))
    other.append(make_entry(2))
    assert other.checkpoint_now() == signer.latest_checkpoint()  # no role: the latest stored, not its own
    cp = verify_checkpoint(signer.checkpoint_now(), private_key.public_key())
    assert cp.size == 3 and cp.root == other.root(3)  # the signer covers what the other appended
    signer.close()  # releases the role
    other.append(make_entry(3))
    assert verify_checkpoint(other.checkpoint_now(), private_key.public_key()).size == 4


def test_when_a_caller_cancels_its_entry_while_it_is_written_then_the_writer_lives_and_the_entry_is_kept(
    open_log: OpenLog, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A request that timed out while awaiting its entry cancels the future (asyncio's ``wrap_future``). Before:
    ``set_result`` on it raised ``InvalidStateError`` in the writer thread, which died, and every later entry (the
    gateway's stop included) waited for ever: the suite hung on an app's shutdown."""
    log = open_log()
    inserting, release = threading.Event(), threading.Event()
    insert = log._insert

    def held(batch: list[object]) -> int:
        inserting.set()
        assert release.wait(10)
        return insert(batch)  # type: ignore[arg-type]

    monkeypatch.setattr(log, "_insert", held)
    first = log.submit(make_entry(0))
    assert inserting.wait(10)
    assert first.cancel()  # the caller left while its batch was being written
    release.set()
    assert log.submit(make_entry(1)).result(timeout=10) == 1  # the writer lives
    assert log.size() == 2  # the cancelled caller's entry is written all the same
