"""Where the gateway's CPU goes, by part: its threads by role, and the PII pool's worker processes.

``gateway_cpu_seconds_total{part=...}`` is read from ``/proc`` when Prometheus scrapes. A part is a thread's name
without its index (``batcher-embed-0`` and ``batcher-embed-1`` are ``batcher-embed``), ``event-loop`` for the main
thread (uvicorn's event loop: the HTTP layer, authentication, policy and audit records of every request), ``native``
for threads Python did not start (torch's and the tokenizer's thread pools, uvloop's), and ``pii-workers`` for the
PII pool's processes. Divided by the requests served in the same interval, it says which part a request costs most
on this machine: on a GPU the model is cheap and the event loop's CPU per request is the ceiling of one process's
one-text requests (``docs/performance.md``).

The counters only grow: the CPU of a thread or worker that has ended is kept as it was last read (what it spent
between that scrape and its end is not counted). Outside Linux (no ``/proc``) nothing is reported.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

_INDEX = re.compile(r"[-_]\d+$")  # batcher-embed-0, audit-published_0
_HELP = "CPU seconds spent by a part of the gateway: a thread role, the event loop, native threads, the PII workers"
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(stat: Path) -> float | None:
    """User and system CPU seconds from a ``/proc`` ``stat`` file (a process's or a thread's); None if unreadable
    (the thread or process has ended)."""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        return (int(fields[11]) + int(fields[12])) / _TICKS
    except (OSError, IndexError, ValueError):
        return None


def part_of(name: str, main: bool) -> str:
    """The part a thread of this name counts in."""
    return "event-loop" if main else _INDEX.sub("", name)


class CpuByPart(Collector):
    """``gateway_cpu_seconds_total`` by part, read at scrape time; ``worker_pids`` gives the PII pool's processes."""

    def __init__(self, worker_pids: Callable[[], list[int]] | None = None, proc: Path = Path("/proc")) -> None:
        self._worker_pids = worker_pids
        self._proc = proc
        self._seen: dict[tuple[str, int], tuple[str, float]] = {}  # (kind, id) -> (part, CPU seconds last read)
        self._ended: dict[str, float] = {}  # part -> CPU seconds of its threads and workers that have ended
        self._lock = threading.Lock()  # two scrapes at once

    def collect(self) -> Iterable[Metric]:
        tasks = self._proc / "self" / "task"
        if not tasks.is_dir():
            return
        with self._lock:
            python = {t.native_id: part_of(t.name, t is threading.main_thread()) for t in threading.enumerate()}
            live = {("thread", int(e.name)): e / "stat" for e in tasks.iterdir()}
            parts = {key: python.get(key[1], "native") for key in live}
            for pid in self._worker_pids() if self._worker_pids is not None else ():
                live[("process", pid)], parts[("process", pid)] = self._proc / str(pid) / "stat", "pii-workers"
            for key in [k for k in self._seen if k not in live]:  # ended since the last scrape
                self._end(key)
            for key, stat in live.items():
                self._read(key, parts[key], stat)
            totals = dict(self._ended)
            for part, seconds in self._seen.values():
                totals[part] = totals.get(part, 0.0) + seconds
        family = CounterMetricFamily("gateway_cpu_seconds", _HELP, labels=["part"])
        for part, seconds in sorted(totals.items()):
            family.add_metric([part], seconds)
        yield family

    def _read(self, key: tuple[str, int], part: str, stat: Path) -> None:
        seconds = cpu_seconds(stat)
        if seconds is None:  # ended while being read
            self._end(key)
            return
        earlier = self._seen.get(key)
        if earlier is not None and (earlier[0] != part or seconds < earlier[1]):
            self._end(key)  # the id was reused by another thread or process since the last scrape
        self._seen[key] = (part, seconds)

    def _end(self, key: tuple[str, int]) -> None:
        """Keep an ended thread's or worker's CPU, as last read, in its part's total."""
        ended = self._seen.pop(key, None)
        if ended is not None:
            self._ended[ended[0]] = self._ended.get(ended[0], 0.0) + ended[1]
