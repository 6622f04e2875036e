"""A write the log claims but the store never committed (the process died between the two) is followed by a
``write.unfinished`` entry at the next sweep; committed writes are not, and nothing is declared twice."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from audit.checkpoint import CheckpointSigner
from audit.keys import Ed25519PrivateKey
from audit.sqlite_log import SQLiteAuditLog
from gateway.auditing.reconcile import EVENT, STATE_FILE, IngestReconciler
from tests.unit.store.store_kit import SQLiteHarness, chunks_for, collection, unit_vectors

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def _log(path: Path) -> SQLiteAuditLog:
    signer = CheckpointSigner(Ed25519PrivateKey.from_private_bytes(bytes(range(32))), "test-audit")
    return SQLiteAuditLog(path / "audit.db", signer=signer, origin="test/audit")


def _ingest(log: SQLiteAuditLog, count: int, at: datetime = NOW, **extra: object) -> int:
    return log.append({"v": 1, "time": at.isoformat().replace("+00:00", "Z"), "event": "document.ingest",
                       "decision": "allow", "tenant": "tenant-a", "count": count, **extra})


def _from_the_start(path: Path) -> Path:
    (path / STATE_FILE).write_text(json.dumps({"next": 0}))
    return path


def _events(log: SQLiteAuditLog) -> list[dict[str, object]]:
    return [json.loads(leaf) for leaf in log.entries(0, log.size())]


def test_when_an_ingest_entry_has_no_committed_write_then_the_next_sweep_says_so_once(tmp_path: Path) -> None:
    harness, log = SQLiteHarness(tmp_path / "store"), _log(tmp_path)
    try:
        harness.store.create_collection(collection())
        stored = _ingest(log, 2)
        harness.store.put("tenant-a", "docs", chunks_for(unit_vectors(2)), stored)
        crashed = _ingest(log, 3)  # the process died here: the entry is durable, the chunks never were
        blocked_only = _ingest(log, 0, decision="block")  # nothing was to be stored
        finished = _ingest(log, 1, phase="switched", event="collection.migrate")  # a migration's last entry
        reconciler = IngestReconciler(log, harness.store, lambda *a, **k: _record(log, *a, **k),
                                      _from_the_start(tmp_path), clock=lambda: NOW)
        assert reconciler.sweep() == [crashed]
        unfinished = [e for e in _events(log) if e["event"] == EVENT]
        assert len(unfinished) == 1 and unfinished[0]["unfinished_index"] == crashed
        assert unfinished[0]["tenant"] == "tenant-a" and unfinished[0]["decision"] == "error"
        assert reconciler.sweep() == []  # the mark moved on; the store would refuse anyway
        assert json.loads((tmp_path / STATE_FILE).read_text())["next"] == log.size() - 0
        assert blocked_only and finished
    finally:
        harness.store.close()
        log.close()


def test_when_entries_are_younger_than_the_settle_time_then_they_wait_for_a_later_sweep(tmp_path: Path) -> None:
    harness, log = SQLiteHarness(tmp_path / "store"), _log(tmp_path)
    try:
        old = _ingest(log, 1, at=NOW - timedelta(minutes=5))
        young = _ingest(log, 1, at=NOW - timedelta(seconds=10))  # a replica may still be writing it
        clock = [NOW]
        reconciler = IngestReconciler(log, harness.store, lambda *a, **k: _record(log, *a, **k),
                                      _from_the_start(tmp_path), clock=lambda: clock[0])
        assert reconciler.sweep(timedelta(seconds=90)) == [old]
        clock[0] = NOW + timedelta(minutes=5)
        assert reconciler.sweep(timedelta(seconds=90)) == [young]
    finally:
        harness.store.close()
        log.close()


def _record(log: SQLiteAuditLog, event: str, decision: str, **fields: object) -> int:
    return log.append({"v": 1, "time": NOW.isoformat().replace("+00:00", "Z"), "event": event,
                       "decision": decision, **fields})


def test_when_a_data_dir_is_swept_for_the_first_time_then_older_entries_are_not_declared(tmp_path: Path) -> None:
    harness, log = SQLiteHarness(tmp_path / "store"), _log(tmp_path)
    try:
        _ingest(log, 2)  # written by a version whose store recorded no commits
        reconciler = IngestReconciler(log, harness.store, lambda *a, **k: _record(log, *a, **k), tmp_path,
                                      clock=lambda: NOW)
        assert reconciler.sweep() == [] and json.loads((tmp_path / STATE_FILE).read_text()) == {"next": 1}
        crashed = _ingest(log, 1)
        assert reconciler.sweep() == [crashed]
    finally:
        harness.store.close()
        log.close()
