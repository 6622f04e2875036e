"""Run the real gateway (real model, real Presidio, real SQLite) as a subprocess on a free port."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.integration.spare import SPARES

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# For the gateways of tests that read nothing of the pool (kills, restarts, stores, keys, retention, workers, jobs,
# batches, collections, witnesses, replicas, engines, tracing, ONNX): detection in the gateway's own process (the same
# Presidio and spaCy, the same findings), so a start loads spaCy once instead of in a pool of worker processes
# (``pii_workers`` auto: 3 on 2 cores), and a stop waits for none. Measured on the shared 2-core machine, start and
# stop, alternated: 22-28 s instead of 34-37 s (load 2-4), 43-62 s instead of 57-102 s (load 5-6). The session
# gateway and the suites about detection keep the default pool, as users run it.
PII_IN_PROCESS = {"GATEWAY_PII_WORKERS": "0"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class GatewayProcess:
    root: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)
    launcher: list[str] = field(default_factory=lambda: [str(BIN / "gateway")])  # a benchmark may wrap it (profiler)
    started_by: str = ""  # the last start: "warm" (a spare interpreter, tests/integration/spare.py) or "fresh <why>"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The started gateway's process id."""
        assert self.proc is not None, "the gateway was not started"
        return self.proc.pid

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def keys_dir(self) -> Path:
        return self.root / "keys"

    @property
    def policy_dir(self) -> Path:
        return self.root / "policy"

    @property
    def log_path(self) -> Path:
        return self.root / "gateway.log"

    def prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not self.policy_dir.exists():
            shutil.copytree(REPO / "policy", self.policy_dir)
        self.env = {
            **os.environ,
            "GATEWAY_DATA_DIR": str(self.data_dir),
            "GATEWAY_KEYS_DIR": str(self.keys_dir),
            "GATEWAY_POLICY_DIR": str(self.policy_dir),
            "GATEWAY_CHECKPOINT_INTERVAL_S": "0.5",
            "HF_HUB_OFFLINE": "1",
            **self.env,
        }
        self.cli("keys", "init")

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "gateway"), *args], env=self.env, capture_output=True, text=True, check=check, timeout=120
        )

    def make_key(self, tenant: str, subject: str, role: str) -> str:
        out = self.cli("apikey", "create", "--tenant", tenant, "--subject", subject, "--role", role)
        return out.stdout.strip().splitlines()[-1]

    def start(self, timeout: float = 240.0) -> None:
        began, ready = time.monotonic(), False
        try:
            self._start(timeout)
            ready = True
        finally:
            _record_start(time.monotonic() - began, ready, self.started_by)

    def _start(self, timeout: float) -> None:
        self.port = self.port or free_port()
        args = ["serve", "--host", "127.0.0.1", "--port", str(self.port)]
        default = self.launcher == [str(BIN / "gateway")]  # a profiler's launcher runs as it is
        self.proc = SPARES.claim(args, self.env, self.log_path) if default else None
        self.started_by = "warm" if self.proc is not None else f"fresh {SPARES.miss if default else 'launcher'}"
        if self.proc is None:
            with self.log_path.open("ab") as log:
                self.proc = subprocess.Popen([*self.launcher, *args], env=self.env, stdout=log,
                                             stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.proc.returncode}: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    SPARES.settle()
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("gateway did not become ready in time")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None


def _record_start(seconds: float, ready: bool, kind: str) -> None:
    """Append ``<test id> <seconds> ready|refused warm|fresh`` to the file ``SUITE_START_LOG`` names, if any: where
    the suite's gateway starts are, what each cost and whether a spare interpreter served it, without a full timed
    run."""
    log = os.environ.get("SUITE_START_LOG")
    if log:
        test = os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" ", 1)[0]
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"{test} {seconds:.1f} {'ready' if ready else 'refused'} {kind}\n")


@contextmanager
def serving(
    root: Path, *, env: dict[str, str] | None = None, edit_policy: Callable[[Path], None] | None = None
) -> Iterator[GatewayProcess]:
    """A prepared, started gateway under ``root``; ``edit_policy(policy_dir)`` runs before the first start."""
    proc = GatewayProcess(root, env=dict(env or {}))
    proc.prepare()
    if edit_policy is not None:
        edit_policy(proc.policy_dir)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@contextmanager
def pg_replicas(
    root: Path, database_url: str, *, env: dict[str, str] | None = None,
    edit_policy: Callable[[Path], None] | None = None,
) -> Iterator[tuple[GatewayProcess, GatewayProcess]]:
    """Two gateways on one PostgreSQL database with shared keys, its schema upgraded once, started side by side;
    ``edit_policy(policy_dir)`` runs for each before the start."""
    shared = {"GATEWAY_DATABASE_URL": database_url, "GATEWAY_KEYS_DIR": str(root / "shared-keys"), **(env or {})}
    pair = (GatewayProcess(root / "one", env=dict(shared)), GatewayProcess(root / "two", env=dict(shared)))
    for gw in pair:
        gw.prepare()
        if edit_policy is not None:
            edit_policy(gw.policy_dir)
    pair[0].cli("db", "upgrade")
    starters = [threading.Thread(target=gw.start) for gw in pair]
    for t in starters:
        t.start()
    for t in starters:
        t.join()
    try:
        for gw in pair:
            assert gw.proc is not None and gw.proc.poll() is None, gw.log_path.read_text()[-2000:]
        yield pair
    finally:
        for gw in pair:
            gw.stop()


def worker_starts(gw: GatewayProcess, auditor_key: str) -> int:
    """How many ``gateway.start`` entries the log holds (one per worker process that finished starting)."""
    page = httpx.get(gw.url + "/v1/audit/entries", params={"start": 0},
                     headers={"Authorization": f"Bearer {auditor_key}"}, timeout=30).json()
    return sum(json.loads(base64.b64decode(e))["event"] == "gateway.start" for e in page["entries"])


def wait_for_workers(gw: GatewayProcess, auditor_key: str, workers: int, timeout_s: float = 240) -> None:
    """Wait until every worker process has started: the first answers /readyz while the others may still load."""
    deadline = time.monotonic() + timeout_s
    while worker_starts(gw, auditor_key) < workers:
        assert time.monotonic() < deadline, gw.log_path.read_text()[-3000:]
        time.sleep(1)


def kill_mid_load(
    gw: GatewayProcess, threads: list[threading.Thread], enough: Callable[[], bool], stop: threading.Event,
    timeout_s: float,
) -> None:
    """Start the client threads, SIGKILL the gateway once ``enough()`` holds (or at the deadline), stop them."""
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout_s
    while not enough() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gw.proc is not None
    gw.proc.send_signal(signal.SIGKILL)  # mid-load: the clients are still sending
    gw.proc.wait(10)
    gw.proc = None
    stop.set()
    for t in threads:
        t.join(30)


def export_and_verify(source: str | Path, public_key: Path, out_dir: Path) -> tuple[Path, str]:
    """Export an audit log with ``gateway-audit`` (``source``: a PostgreSQL URL, or an embedded gateway's data dir)
    and verify it offline, as an auditor would; returns the exported log and the export command's output."""
    out, checkpoint = out_dir / "log.jsonl", out_dir / "checkpoint.txt"
    audit = [str(BIN / "gateway-audit")]
    origin = ["--data-dir", str(source)] if isinstance(source, Path) else ["--database-url", source]
    exported = subprocess.run([*audit, "export", *origin, "--out", str(out),
                               "--checkpoint-out", str(checkpoint)], capture_output=True, text=True, timeout=60)
    assert exported.returncode == 0, exported.stderr
    verified = subprocess.run([*audit, "verify", "--log", str(out), "--checkpoint", str(checkpoint),
                               "--public-key", str(public_key)], capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    return out, exported.stdout
