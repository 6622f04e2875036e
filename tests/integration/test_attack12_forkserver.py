"""attack12: a PII pool whose owner is killed leaves no temporary directory behind.

multiprocessing's fork server listens on a socket in a ``pymp-*`` directory of the owner's temporary directory,
which only the owner's orderly exit removed: every gateway killed with kill -9 (or SIGTERM before it serves)
left one in /tmp. Real pool, real fork server, real spaCy; the owner is a process of its own, killed with SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

OWNER = """
import sys
from pathlib import Path
from gateway.pii.pool import PoolDetector
from gateway.policy.loader import PolicyHolder

if __name__ == "__main__":
    policy = PolicyHolder(Path(sys.argv[1]) / "gateway.yaml").current()
    pool = PoolDetector(1, policy=policy)
    print("ready", flush=True)
    sys.stdin.read()  # until killed
"""


def _pymp_dirs(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.iterdir() if p.name.startswith("pymp-"))


def test_when_the_pool_owner_is_killed_then_its_fork_server_socket_directory_is_removed(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    script = tmp_path / "owner.py"
    script.write_text(OWNER)
    env = {**os.environ, "TMPDIR": str(temp), "HF_HUB_OFFLINE": "1"}
    owner = subprocess.Popen(  # our own interpreter and script
        [sys.executable, str(script), str(REPO / "policy")], cwd=REPO, env=env,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert owner.stdout is not None
        assert owner.stdout.readline().strip() == "ready"
        assert len(_pymp_dirs(temp)) == 1  # the fork server's socket directory exists while the pool runs
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait(10)
    until = time.monotonic() + 30
    while _pymp_dirs(temp) and time.monotonic() < until:
        time.sleep(0.2)
    assert _pymp_dirs(temp) == []


def test_when_the_fork_server_socket_directory_is_removed_then_a_dead_worker_is_still_replaced() -> None:
    """A /tmp cleaner removed the server's socket: the replacement of a worker killed afterwards crashed its
    thread (FileNotFoundError on connect) and the slot stayed empty for good; the pool now restarts the server."""
    import shutil
    from multiprocessing import util

    from gateway.errors import DetectionTooCostly, Unavailable
    from gateway.pii.pool import PoolDetector
    from gateway.policy.loader import PolicyHolder

    policy = PolicyHolder(REPO / "policy" / "gateway.yaml").current()
    pool = PoolDetector(2, policy=policy, start_timeout_s=60.0)  # one lives on, holding the old server
    try:
        shutil.rmtree(util.get_temp_dir())
        os.kill(pool.pids()[0], signal.SIGKILL)
        scope = policy.scope("acme", None)
        # The dead worker held this batch, or no replacement was ready: refused, never passed unscreened.
        with contextlib.suppress(Unavailable, DetectionTooCostly):
            pool.analyze(["hello"], [scope], budget_s=5.0)
        until = time.monotonic() + 60
        findings = None
        while findings is None and time.monotonic() < until:
            try:
                findings = pool.analyze(["My SSN is 078-05-1120"], [scope], budget_s=5.0)
            except (Unavailable, DetectionTooCostly):
                time.sleep(0.5)
        assert findings is not None and any(f.entity_type == "US_SSN" for f in findings[0])
    finally:
        pool.close()


def test_when_a_worker_is_stopped_mid_batch_then_the_batch_is_refused_and_the_worker_replaced() -> None:
    """SIGSTOP (or a hang) in a worker: a batch without a detection budget waited for it forever, holding the
    caller's thread and the slot (the request got 504 at 60 s, the pool stayed a worker short)."""
    import threading

    from gateway.errors import Unavailable
    from gateway.pii.pool import PoolDetector
    from gateway.policy.loader import PolicyHolder

    policy = PolicyHolder(REPO / "policy" / "gateway.yaml").current()
    pool = PoolDetector(1, policy=policy, start_timeout_s=60.0, hang_s=2.0)
    stopped = pool.pids()[0]
    outcome: list[BaseException | None] = []

    def screen() -> None:
        try:
            pool.analyze(["hello there"], [policy.scope("acme", None)])
            outcome.append(None)
        except Unavailable as exc:
            outcome.append(exc)

    try:
        os.kill(stopped, signal.SIGSTOP)
        caller = threading.Thread(target=screen, daemon=True)
        caller.start()
        caller.join(20)
        assert outcome and isinstance(outcome[0], Unavailable)
        assert stopped not in pool.pids()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(stopped, signal.SIGCONT)
        pool.close()
