"""The retention sweep over a real embedded store: purges by each collection's policy, audits counts only."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from gateway.auditing.auditor import Auditor
from gateway.drift.monitor import DriftMonitor
from gateway.drift.repository import MemoryDriftRepository, WindowRow
from gateway.errors import BadRequest, NotFound
from gateway.policy.loader import DriftThresholds, GatewayPolicy, parse_policy
from gateway.retention.sweep import RetentionSweep, parse_now, preview
from gateway.store.base import Collection
from tests.unit.auditing.audit_fakes import ListSink, test_secret
from tests.unit.store.store_kit import SQLiteHarness, chunks_for, collection, unit_vectors

POLICY = b"""version: 1
defaults:
  pii: {entities: {US_SSN: block}}
tenants:
  acme:
    retention_days: 30
    collections:
      notes: {retention_days: 1}
      keep: {retention_days: null}
"""




@pytest.fixture
def harness(tmp_path: Path) -> Iterator[SQLiteHarness]:
    made = SQLiteHarness(tmp_path / "data")
    yield made
    made.close()


def _fill(harness: SQLiteHarness, tenant: str, name: str, n: int = 3) -> list[str]:
    harness.store.create_collection(collection(tenant=tenant, name=name))
    return harness.store.put(tenant, name, chunks_for(unit_vectors(n), prefix=f"{name}-doc"), None)


def _d(tenant: str, name: str) -> str:
    """A collection as audit entries name it: its keyed digest (the name is the caller's choice)."""
    return Auditor(ListSink(), test_secret).digest(tenant, name)


def _sweep(harness: SQLiteHarness, policy: GatewayPolicy, drift: DriftMonitor | None = None
           ) -> tuple[RetentionSweep, ListSink]:
    sink = ListSink()
    return RetentionSweep(harness.store, lambda: policy, Auditor(sink, test_secret), drift), sink


def test_when_swept_with_a_future_now_then_each_collection_keeps_what_its_policy_allows(
    harness: SQLiteHarness,
) -> None:
    policy = parse_policy(POLICY)
    notes, docs, keep, other = (_fill(harness, "acme", "notes"), _fill(harness, "acme", "docs"),
                                _fill(harness, "acme", "keep"), _fill(harness, "globex", "docs"))
    sweep, sink = _sweep(harness, policy)
    in_two_days = datetime.now(UTC) + timedelta(days=2)
    report = sweep.run(in_two_days)
    assert report.chunks == 3
    with pytest.raises(NotFound):
        harness.store.get("acme", "notes", notes[0])  # 1 day: purged
    for tenant, name, ids in (("acme", "docs", docs), ("acme", "keep", keep), ("globex", "docs", other)):
        assert harness.store.get(tenant, name, ids[0]).record_id == ids[0]  # 30 days, kept forever, no policy
    [entry] = sink.entries  # one entry for the one tenant under retention; globex has none
    assert (entry["event"], entry["decision"], entry["tenant"], entry["count"]) == ("retention.purge", "allow",
                                                                                     "acme", 3)
    notes_d, docs_d = _d("acme", "notes"), _d("acme", "docs")
    assert set(entry["collections"]) == {notes_d, docs_d}  # not "keep": kept forever; names never written
    assert entry["collections"][notes_d]["chunks"] == 3 and entry["collections"][docs_d]["chunks"] == 0
    assert entry["policy_version"] == policy.version
    assert entry["collections"][notes_d]["cutoff"] == (in_two_days - timedelta(days=1)).isoformat()
    assert sweep.run(in_two_days).chunks == 0  # idempotent; the second sweep is audited too
    assert len(sink.entries) == 2 and sink.entries[1]["count"] == 0


def test_when_previewed_then_the_counts_are_the_sweeps_and_nothing_is_deleted_or_audited(
    harness: SQLiteHarness,
) -> None:
    policy = parse_policy(POLICY)
    notes, docs = _fill(harness, "acme", "notes"), _fill(harness, "acme", "docs", n=2)
    _fill(harness, "acme", "keep")
    _fill(harness, "globex", "docs")
    sweep, sink = _sweep(harness, policy)
    in_40_days = datetime.now(UTC) + timedelta(days=40)
    seen = preview(harness.store, policy, in_40_days)
    counts = {(t, p.collection): (p.chunks, p.retention_days) for t, purges in seen.tenants.items() for p in purges}
    assert counts == {("acme", "notes"): (3, 1), ("acme", "docs"): (2, 30)}  # "keep" forever, globex no policy
    assert seen.chunks == 5 and not sink.entries
    assert harness.store.get("acme", "notes", notes[0]).record_id == notes[0]  # still there
    assert harness.store.get("acme", "docs", docs[1]).record_id == docs[1]
    assert sweep.run(in_40_days).chunks == seen.chunks  # what the sweep then purges
    assert preview(harness.store, policy, in_40_days).chunks == 0
    with pytest.raises(BadRequest):
        preview(harness.store, policy, datetime.now())  # no time zone


def test_when_swept_at_the_present_then_nothing_young_is_purged(harness: SQLiteHarness) -> None:
    ids = _fill(harness, "acme", "notes")
    sweep, _ = _sweep(harness, parse_policy(POLICY))
    assert sweep.run().chunks == 0
    assert harness.store.get("acme", "notes", ids[0]).record_id == ids[0]


def test_when_chunks_are_purged_then_drift_windows_before_the_cutoff_and_the_baseline_go(
    harness: SQLiteHarness,
) -> None:
    _fill(harness, "acme", "notes")
    repo = MemoryDriftRepository()
    drift = DriftMonitor(repo, lambda tenant, name: DriftThresholds(), baseline_size=2, window_size=2)
    c = harness.store.get_collection("acme", "notes")
    drift.observe(c, unit_vectors(4))  # a baseline and one closed window, both stamped now
    repo.add_window("acme", "notes", WindowRow("2999-01-01T00:00:00+00:00", 2, 0.0, 0.0, 0.0, ()))
    assert repo.baselines and len(repo.series[("acme", "notes")]) == 2
    sweep, sink = _sweep(harness, parse_policy(POLICY), drift)
    sweep.run(datetime.now(UTC) + timedelta(days=2))
    assert not repo.baselines  # fitted on purged vectors
    assert [w.closed_at for w in repo.series[("acme", "notes")]] == ["2999-01-01T00:00:00+00:00"]
    assert sink.entries[0]["collections"][_d("acme", "notes")]["drift_rows"] == 2


def test_when_a_collection_fails_to_purge_then_the_others_are_purged_and_the_failure_is_audited(
    harness: SQLiteHarness,
) -> None:
    _fill(harness, "acme", "notes")
    _fill(harness, "acme", "docs")

    class Failing:
        def purge_before(self, c: Collection, cutoff: datetime, *, chunks_purged: bool) -> int:
            if c.name == "docs":
                raise RuntimeError("disk full")
            return 0

    sweep, sink = _sweep(harness, parse_policy(POLICY), Failing())  # type: ignore[arg-type]
    report = sweep.run(datetime.now(UTC) + timedelta(days=40))
    assert report.failed and report.chunks == 3  # notes was purged all the same
    [entry] = sink.entries
    assert entry["decision"] == "error" and entry["collections"][_d("acme", "docs")]["error"] is True


def test_when_a_sweep_is_audited_then_the_entry_holds_no_text_or_metadata(harness: SQLiteHarness) -> None:
    harness.store.create_collection(collection(tenant="acme", name="notes"))
    from tests.unit.store.store_kit import chunk

    harness.store.put("acme", "notes", [chunk("secret-doc-id", 0, unit_vectors(1)[0], "Jane Roe's diagnosis",
                                              {"patient": "Jane Roe"})], None)
    sweep, sink = _sweep(harness, parse_policy(POLICY))
    assert sweep.run(datetime.now(UTC) + timedelta(days=2)).chunks == 1
    dumped = json.dumps(sink.entries)
    assert "Jane" not in dumped and "diagnosis" not in dumped and "secret-doc-id" not in dumped
    assert '"notes"' not in dumped  # regression (auditor15): the collection's name keyed its counts, for ever


def test_when_now_is_given_then_it_must_be_iso_8601_with_a_time_zone() -> None:
    assert parse_now("2030-01-01T00:00:00Z") == datetime(2030, 1, 1, tzinfo=UTC)
    for bad in ("2030-01-01T00:00:00", "next tuesday", ""):
        with pytest.raises(BadRequest, match="--now"):
            parse_now(bad)


def test_when_the_clock_has_no_time_zone_then_the_sweep_refuses(harness: SQLiteHarness) -> None:
    sweep, sink = _sweep(harness, parse_policy(POLICY))
    with pytest.raises(BadRequest):
        sweep.run(datetime(2030, 1, 1))
    assert sink.entries == []


def test_when_swept_then_the_purged_vectors_leave_search(harness: SQLiteHarness) -> None:
    vectors = unit_vectors(3)
    harness.store.create_collection(collection(tenant="acme", name="notes"))
    harness.store.put("acme", "notes", chunks_for(vectors[:2], prefix="old"), None)
    time.sleep(0.01)
    sweep, _ = _sweep(harness, parse_policy(POLICY))
    sweep.run(datetime.now(UTC) + timedelta(days=1))
    young = harness.store.put("acme", "notes", chunks_for(vectors[2:], prefix="young"), None)
    hits = harness.store.search("acme", "notes", np.asarray(vectors[0]), 3)
    assert [h.record_id for h in hits] == young


def test_when_batch_files_and_jobs_expire_then_the_sweep_purges_them_and_audits_the_counts(
    harness: SQLiteHarness,
) -> None:
    sink = ListSink()
    purged = iter([{"files": 3, "jobs": 1}, {"files": 0, "jobs": 0}])
    asked: list[float] = []
    sweep = RetentionSweep(harness.store, lambda: parse_policy(POLICY), Auditor(sink, test_secret),
                           expired=lambda now: asked.append(now) or next(purged))
    later = datetime(2031, 1, 1, tzinfo=UTC)
    sweep.run(later)
    assert asked == [later.timestamp()]  # a sweep's --now applies to files and jobs too
    [entry] = [e for e in sink.entries if e["event"] == "file.purge"]
    assert (entry["tenant"], entry["count"], entry["files"], entry["jobs"]) == ("*", 4, 3, 1)
    sweep.run()  # nothing expired: no entry
    assert len([e for e in sink.entries if e["event"] == "file.purge"]) == 1
