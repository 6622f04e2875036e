"""``gateway`` under cProfile in every thread, CPU time per thread (``throughput.py --one-key --profile``).

Run in place of the ``gateway`` script. Every thread gets its own profiler, timed with that thread's CPU clock
(``time.thread_time``), so a thread waiting for the GIL or a lock is not charged: the event loop's thread, the
batchers, the audit writer, the ledger, the offload pool. SIGUSR1 marks the start of the measured load (the
profilers' counts so far are kept as a baseline and subtracted, which leaves out the model's and spaCy's loading);
on exit (SIGTERM) the difference is written to ``$GATEWAY_BENCH_PROFILE_DIR/profile.json``, and ``summarize`` reads
it back as CPU ms per request. cProfile slows Python code about twofold: read shares and per-request costs, not the
run's throughput.

    python bench/_profiled_gateway.py serve --host 127.0.0.1 --port 9401
"""

from __future__ import annotations

import _lsprof
import cProfile
import json
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

Key = str  # "file:line(function)" or a builtin's description
_profiles: list[tuple[str, cProfile.Profile]] = []
_baseline: dict[int, dict[Key, tuple[float, float, int]]] = {}


def _start_profile(frame: FrameType, event: str, arg: Any) -> None:
    """The first profile event of a new thread: hand the thread to its own profiler (which replaces this hook)."""
    profile = cProfile.Profile(time.thread_time)
    _profiles.append((threading.current_thread().name, profile))
    profile.enable()


def _key(code: Any) -> Key:
    if isinstance(code, str):
        return code
    return f"{os.path.basename(code.co_filename)}:{code.co_firstlineno}({code.co_name})"


def _snapshot(profile: cProfile.Profile) -> dict[Key, tuple[float, float, int]]:
    """Own time, total time and calls per function, summed over identical keys (read under the GIL)."""
    out: dict[Key, tuple[float, float, int]] = {}
    entry: _lsprof.profiler_entry
    for entry in profile.getstats():
        own, total, calls = out.get(_key(entry.code), (0.0, 0.0, 0))
        out[_key(entry.code)] = (own + entry.inlinetime, total + entry.totaltime, calls + entry.callcount)
    return out


def _mark(*_: object) -> None:
    """SIGUSR1, in the main thread: its own profiler paused meanwhile, so the snapshots are not charged to it."""
    main = _profiles[0][1]
    main.disable()
    try:
        for i, (_name, profile) in enumerate(list(_profiles)):
            _baseline[i] = _snapshot(profile)
    finally:
        main.enable()


def _dump(out: Path) -> None:
    threads: dict[str, dict[Key, list[float]]] = {}
    for i, (name, profile) in enumerate(list(_profiles)):
        base = _baseline.get(i, {})
        rows = threads.setdefault(thread_group(name), {})
        for key, (own, total, calls) in _snapshot(profile).items():
            b_own, b_total, b_calls = base.get(key, (0.0, 0.0, 0))
            if own - b_own > 0 or calls - b_calls > 0:
                got = rows.setdefault(key, [0.0, 0.0, 0])
                got[0] += own - b_own
                got[1] += total - b_total
                got[2] += calls - b_calls
    out.mkdir(parents=True, exist_ok=True)
    (out / "profile.json").write_text(json.dumps(threads), "utf-8")


def thread_group(name: str) -> str:
    """Threads of one role share a name up to a trailing number (``batcher-embed-0``, ``ThreadPoolExecutor-0_3``)."""
    return re.sub(r"[-_]\d+(_\d+)?$", "", name)


def summarize(directory: Path, requests: int, top: int = 25) -> str:
    """CPU ms per request by thread role, then the functions with the most own CPU time (all threads together)."""
    path = directory / "profile.json"
    if not path.exists():
        return "profile: not written (the gateway did not exit cleanly)"
    threads: dict[str, dict[Key, list[float]]] = json.loads(path.read_text("utf-8"))
    per = 1e3 / max(1, requests)
    lines = [f"profile: CPU ms per request by thread ({requests} requests; cProfile on each thread's CPU clock):"]
    totals = {g: sum(r[0] for r in rows.values()) for g, rows in threads.items()}
    lines += [f"  {g:<36} {t * per:7.3f}" for g, t in sorted(totals.items(), key=lambda kv: -kv[1]) if t * per >= 0.005]
    lines.append(f"  {'all threads':<36} {sum(totals.values()) * per:7.3f}")
    merged: dict[Key, list[float]] = {}
    for rows in threads.values():
        for key, (own, total, calls) in rows.items():
            got = merged.setdefault(key, [0.0, 0.0, 0])
            got[0], got[1], got[2] = got[0] + own, got[1] + total, got[2] + calls
    lines.append("profile: functions by own CPU time, ms per request (own, cumulative, calls per request):")
    for key, (own, total, calls) in sorted(merged.items(), key=lambda kv: -kv[1][0])[:top]:
        lines.append(f"  {own * per:7.3f}  {total * per:7.3f}  {calls / max(1, requests):7.1f}  {key[:110]}")
    return "\n".join(lines)


def main() -> int:
    out = Path(os.environ["GATEWAY_BENCH_PROFILE_DIR"])
    from gateway.cli import main as gateway_main

    signal.signal(signal.SIGUSR1, _mark)
    # uvicorn re-raises the SIGTERM it caught once it has shut down; the default action would end the process
    # before the profile is written, so the restored handler turns it into a normal exit.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    threading.setprofile(_start_profile)
    main_profile = cProfile.Profile(time.thread_time)
    _profiles.insert(0, ("MainThread", main_profile))  # first: _mark pauses it
    main_profile.enable()
    try:
        return int(gateway_main(sys.argv[1:]) or 0)
    finally:
        main_profile.disable()
        _dump(out)


if __name__ == "__main__":
    sys.exit(main())
