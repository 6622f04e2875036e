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


def test_when_the_fork_server_is_stopped_then_a_replacement_holds_no_batch_of_the_live_workers() -> None:
    """A stopped (or hung) fork server never answers a fork: the replacement of a killed worker waited for it
    holding the pool's lock, so every batch waited too, the idle live worker's included (each request got 504 at
    its limit until the server went on). The fork now happens outside the lock."""
    import threading

    from gateway.errors import DetectionTooCostly, Unavailable
    from gateway.pii.pool import PoolDetector
    from gateway.policy.loader import PolicyHolder
    from tests.procs import fork_servers_of

    policy = PolicyHolder(REPO / "policy" / "gateway.yaml").current()
    scope = policy.scope("acme", None)
    pool = PoolDetector(2, policy=policy, start_timeout_s=60.0)
    [server] = fork_servers_of(os.getpid())
    found: list[object] = []

    def screen() -> None:
        found.append(pool.analyze(["My SSN is 078-05-1120"], [scope], budget_s=5.0))

    try:
        os.kill(server, signal.SIGSTOP)
        os.kill(pool.pids()[0], signal.SIGKILL)
        with contextlib.suppress(Unavailable, DetectionTooCostly):  # the dead worker's batch, if it took it
            pool.analyze(["hello"], [scope], budget_s=5.0)
        time.sleep(1.0)  # the replacement is forking by now, its server stopped
        caller = threading.Thread(target=screen, daemon=True)
        caller.start()
        caller.join(15)
        assert found, "a batch waited for the stopped fork server although a live worker was idle"
    finally:
        os.kill(server, signal.SIGCONT)
        pool.close()


def test_when_the_fork_server_is_stopped_and_a_worker_killed_then_requests_are_still_served_in_time(
    tmp_path: Path,
) -> None:
    """Through HTTP, with a request limit of 10 s: once the killed worker's replacement waited for the stopped
    fork server, every request got 504 at its limit (measured 10.0-10.1 s), though two workers were idle."""
    import httpx

    from tests.integration.server import GatewayProcess
    from tests.procs import fork_servers_of, pii_workers_of

    gw = GatewayProcess(tmp_path / "gw", port=int(os.environ.get("ATTACK12_PORT", "0")),
                        env={"GATEWAY_PII_WORKERS": "3", "GATEWAY_REQUEST_TIMEOUT_S": "10"})
    gw.prepare()
    key = gw.make_key("acme", "svc", "writer")
    gw.start()
    stopped: list[int] = []
    try:
        with httpx.Client(timeout=60) as client:

            def embed(text: str) -> tuple[int, float]:
                started = time.monotonic()
                reply = client.post(gw.url + "/v1/embeddings", headers={"Authorization": f"Bearer {key}"},
                                    json={"input": text})
                return reply.status_code, time.monotonic() - started

            assert embed("warm up")[0] == 200
            workers = pii_workers_of(gw.pid)
            stopped = fork_servers_of(gw.pid)
            assert len(workers) == 3 and len(stopped) == 1
            os.kill(stopped[0], signal.SIGSTOP)
            os.kill(workers[0], signal.SIGKILL)
            time.sleep(0.5)
            # Within three requests the dead worker's turn comes and its replacement starts forking.
            replies = [embed(f"an ordinary sentence {i}") for i in range(5)]
        assert [code for code, _ in replies] == [200] * 5, replies  # seconds each, in the message if not
    finally:
        for server in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(server, signal.SIGCONT)
        gw.stop()
