"""The pool's workers come from a fork server that imported spaCy and Presidio once (``gateway.pii.preload``),
replacements too, and that server's imports leave nothing unsafe to fork (marked slow: real spaCy)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gateway.pii.pool import PRELOAD, PoolDetector
from gateway.pii.spacy_pipeline import DEFAULT_SPACY_MODEL, PRELOAD_ENV, pipeline_path
from gateway.policy.loader import GatewayPolicy
from tests.procs import parent_of, running

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]


def test_when_a_pool_starts_then_its_workers_and_a_dead_ones_replacement_are_forked_by_the_preloaded_server(
    shipped_policy: GatewayPolicy,
) -> None:
    scope = shipped_policy.scope("t")
    pool = PoolDetector(2, policy=shipped_policy)
    try:
        first, second = pool.pids()
        server = parent_of(first)
        assert server != os.getpid() and parent_of(second) == server and parent_of(server) == os.getpid()
        cmdline = Path(f"/proc/{server}/cmdline").read_bytes()
        assert b"multiprocessing.forkserver" in cmdline and PRELOAD.encode() in cmdline
        os.kill(first, signal.SIGKILL)  # while idle: the worker that takes the next batch finds it dead
        until = time.monotonic() + 10
        # Gone, not only a zombie: the leader of a process's threads turns zombie before the others (and the pipe
        # they share) are gone; the fork server reaps the whole process.
        while Path(f"/proc/{first}").exists() and time.monotonic() < until:
            time.sleep(0.05)
        for _ in range(2):  # the idle workers are taken in turn: one of these finds the dead one and replaces it
            assert pool.analyze(["My SSN is 078-05-1120"], [scope])[0][0].entity_type == "US_SSN"
        until = time.monotonic() + 120
        while (first in pool.pids() or len(pool.pids()) < 2) and time.monotonic() < until:
            time.sleep(0.2)
        [replacement] = set(pool.pids()) - {second}
        assert replacement != first and parent_of(replacement) == server
        assert pool.analyze(["My SSN is 078-05-1120"] * 4, [scope] * 4)[3][0].entity_type == "US_SSN"
    finally:
        pool.close()


def test_when_the_fork_servers_preload_is_imported_then_no_thread_starts_and_torch_stays_out() -> None:
    # numpy's OpenBLAS starts its own thread pool (safe across fork: it shuts down and restarts around one); the
    # preload adds no thread to it, and no Python thread at all.
    script = textwrap.dedent(f"""
        import os, sys, threading
        sys.path.insert(0, {str(ROOT)!r})
        import numpy
        before = len(os.listdir("/proc/self/task"))
        import {PRELOAD}
        from gateway.pii import spacy_pipeline
        print(before, len(os.listdir("/proc/self/task")), threading.active_count(),
              sys.modules.get("torch"), sys.modules.get("transformers"), "spacy" in sys.modules,
              [type(p).__name__ for p in spacy_pipeline._preloaded.values()])
    """)
    pipeline = str(pipeline_path(DEFAULT_SPACY_MODEL))  # the pool names it; the pipeline loads too, with no thread
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120,
                         env={**os.environ, "HF_HUB_OFFLINE": "1", PRELOAD_ENV: pipeline})
    before, after, python_threads, torch, transformers, spacy, preloaded = out.stdout.split()
    assert after == before and python_threads == "1"
    assert (torch, transformers, spacy, preloaded) == ("None", "None", "True", "['English']")


def test_when_the_pools_owner_is_killed_mid_batch_then_its_workers_and_their_fork_server_exit() -> None:
    # The fork server is the workers' parent and lives while they hold its pipe: they watch their owner instead.
    script = textwrap.dedent(f"""
        import pathlib, sys, threading, time
        sys.path.insert(0, {str(ROOT)!r})
        from gateway.pii.pool import PoolDetector
        from gateway.policy.loader import load_policy
        if __name__ == "__main__":
            policy = load_policy(pathlib.Path({str(ROOT / "policy" / "gateway.yaml")!r}))
            pool = PoolDetector(2, policy=policy)
            print(*pool.pids(), flush=True)
            text = "Meeting notes. Reach Dave Miller at dave@example.org, SSN 123-45-6789. " * 2000
            threading.Thread(target=pool.analyze, args=([text], [policy.scope("t")])).start()
            time.sleep(600)
    """)
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        assert owner.stdout is not None
        workers = [int(p) for p in owner.stdout.readline().split()]
        server = parent_of(workers[0])
        assert len(workers) == 2 and server != owner.pid and all(running(p) for p in [*workers, server])
        time.sleep(1.0)  # one worker is screening the long text (no budget: seconds)
    finally:
        owner.kill()  # kill -9: no close, no atexit
        owner.wait(10)
    until = time.monotonic() + 10
    while any(running(p) for p in [*workers, server]) and time.monotonic() < until:
        time.sleep(0.1)
    assert not [p for p in [*workers, server] if running(p)]
