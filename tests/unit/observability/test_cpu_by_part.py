"""``gateway_cpu_seconds_total`` by part: the real /proc for this process, a fake /proc for ended and reused ids."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from gateway.observability.threads import CpuByPart, cpu_seconds, part_of

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")


def _totals(collector: CpuByPart) -> dict[str, float]:
    [family] = list(collector.collect())
    assert family.name == "gateway_cpu_seconds"
    return {s.labels["part"]: s.value for s in family.samples if s.name == "gateway_cpu_seconds_total"}


def test_part_names() -> None:
    assert part_of("batcher-embed-0", main=False) == "batcher-embed"
    assert part_of("audit-published_3", main=False) == "audit-published"
    assert part_of("audit-log-writer", main=False) == "audit-log-writer"
    assert part_of("MainThread", main=True) == "event-loop"


@linux
def test_a_busy_thread_counts_under_its_role() -> None:
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            sum(range(10_000))

    worker = threading.Thread(target=spin, name="batcher-probe-0")
    worker.start()
    try:
        before = _totals(CpuByPart())
        collector = CpuByPart()
        time.sleep(0.3)
        after = _totals(collector)
    finally:
        stop.set()
        worker.join()
    assert after["batcher-probe"] >= before.get("batcher-probe", 0.0) + 0.05  # it spun for 0.3 s on a core
    assert "event-loop" in after  # the main thread


def _stat(path: Path, utime: int, stime: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = ["S"] + ["0"] * 10 + [str(utime), str(stime)] + ["0"] * 30
    path.write_text(f"123 (name with) spaces) {' '.join(fields)}\n")


def test_ended_workers_keep_their_cpu_and_a_reused_id_adds(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    (proc / "self" / "task").mkdir(parents=True)
    pids = [41]
    _stat(proc / "41" / "stat", 300, 100)  # 400 ticks
    collector = CpuByPart(lambda: list(pids), proc=proc)
    first = cpu_seconds(proc / "41" / "stat")
    assert first is not None and first > 0
    ticks = 400 / first
    assert _totals(collector)["pii-workers"] == pytest.approx(400 / ticks)
    pids[:] = [42]  # worker 41 ended (its file stays unread), 42 replaced it
    _stat(proc / "42" / "stat", 50, 0)
    assert _totals(collector)["pii-workers"] == pytest.approx(450 / ticks)
    pids[:] = [42]
    _stat(proc / "42" / "stat", 10, 0)  # the id was reused by a new process with less CPU: the old one's stays
    assert _totals(collector)["pii-workers"] == pytest.approx(460 / ticks)
    (proc / "42" / "stat").unlink()  # gone while being read
    assert _totals(collector)["pii-workers"] == pytest.approx(460 / ticks)


def test_unreadable_stat_is_none(tmp_path: Path) -> None:
    assert cpu_seconds(tmp_path / "missing") is None
    (tmp_path / "bad").write_text("garbage")
    assert cpu_seconds(tmp_path / "bad") is None
