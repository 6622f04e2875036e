"""A spare interpreter for the next test gateway: the heavy imports of a start, done ahead, off the start's clock.

A gateway start spends most of its time importing torch, sentence-transformers (with transformers, scipy,
sklearn and sympy), Presidio and spaCy. A spare is a ``python`` process, started by the test process, that imports
those and waits. The next :class:`~tests.integration.server.GatewayProcess` start hands it its environment, log
and arguments; the spare then runs the installed ``gateway`` script itself (``runpy``, as the interpreter runs a
script: the same ``__main__``, ``sys.argv`` and ``sys.path[0]``), so the gateway is the process the test started,
its pid, signals, exit code and children as before; only the imports were done earlier. A new spare is started at
once for the start after.

While it waits and imports, a spare runs at the lowest priority (nice 19): it takes CPU the suite leaves idle (a
start's test waits for the gateway's readiness, most tests wait on the gateway), not the CPU of a test's timing.
When claimed it takes back the test process's priority, every thread's, before it runs anything of the gateway.
Where that is not allowed (an unprivileged user cannot lower a nice value) a spare imports at the test's own
priority instead, and a start returns only once the next spare's imports are done too: they overlap the start's own
work (model load and trace, Presidio), never a test's; should a claimed spare still refuse, starts go back to a
fresh ``gateway`` process for the rest of the session. A start whose environment differs from the spare's in
anything the imports could read (anything but the gateway's settings, OpenTelemetry's and the SoftHSM
configuration: ``PYTHONPATH``, ``HF_*``, a profiler's launcher) also runs a fresh process. ``SUITE_WARM_STARTS=0``
turns spares off.
"""

from __future__ import annotations

import atexit
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
# Read by the gateway when it runs (or by nothing: pytest's name of the current test), never by the imports a
# spare does ahead.
RUNTIME_ONLY = ("GATEWAY_", "OTEL_", "SOFTHSM2_CONF", "PYTEST_CURRENT_TEST")

_SPARE = r"""
import json, os, runpy, sys
bin_dir, nice = sys.argv[1], int(sys.argv[2])
sys.path[0] = bin_dir  # as for the script: its directory, not the working directory
os.nice(nice)
import torch, sentence_transformers, presidio_analyzer, spacy  # noqa: F401  # what a start imports first
sys.stdout.write("warm\n"); sys.stdout.flush()
line = sys.stdin.readline()
if not line:
    os._exit(0)  # the test process has gone: nothing to serve
claim = json.loads(line)
try:  # every thread: a nice value is a thread's, and the imports started some (OpenBLAS's pool)
    for tid in os.listdir("/proc/self/task"):
        os.setpriority(os.PRIO_PROCESS, int(tid), claim["nice"])
except OSError:
    sys.stdout.write("refused\n"); sys.stdout.flush(); os._exit(3)
sys.stdout.write("ok\n"); sys.stdout.flush()
null, log = os.open(os.devnull, os.O_RDONLY), os.open(claim["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
os.dup2(null, 0); os.dup2(log, 1); os.dup2(log, 2); os.close(null); os.close(log)
os.environ.clear(); os.environ.update(claim["env"])
script = os.path.join(bin_dir, "gateway")
sys.argv = [script, *claim["args"]]
runpy.run_path(script, run_name="__main__")
"""


class _Spares:
    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.env: dict[str, str] = {}
        self.warm = False  # the spare's imports are done (its first line read)
        self.miss = ""  # why the last start ran a fresh process, for the start log
        self.off = os.environ.get("SUITE_WARM_STARTS", "1") == "0"
        self.nice = 19 if _may_lower_nice() else 0
        atexit.register(self.close)

    def spawn(self) -> None:
        if self.off or self.proc is not None:
            return
        self.env = self._base_env()
        self.warm = False
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _SPARE, str(BIN), str(self.nice)], env=self.env, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )

    def settle(self) -> None:
        """Where the spare imports at the test's own priority (nice not lowered), wait for its imports to end, so
        that they overlap a start's own work and never a test's: called once a started gateway is ready."""
        if self.nice == 0 and self.proc is not None and not self.warm:
            assert self.proc.stdout is not None
            self.warm = self.proc.stdout.readline() == b"warm\n"

    def claim(self, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes] | None:
        """The spare, now running ``gateway *args`` with ``env`` and its output appended to ``log``; or None (no
        spare, none usable for this environment, or spares refused): the caller starts a fresh process."""
        proc = self.proc
        if self.off:
            self.miss = "off"
            return None
        stale = proc is not None and bool(self._differs(self._base_env()))
        if stale:
            # The test process's own environment changed since the spare was started (importing torch there sets
            # KMP_* and TORCHINDUCTOR_CACHE_DIR): it would never fit again. Replace it, for the next start.
            self.close()
            proc = None
        differs = self._differs(env)
        if proc is None or differs:
            why = "stale-spare" if stale else "no-spare" if proc is None else "differs:" + ",".join(differs)
            self.miss = why  # names, never values
            self.spawn()
            return None
        self.proc = None
        assert proc.stdin is not None and proc.stdout is not None
        claim = {"args": args, "env": env, "log": str(log), "nice": os.getpriority(os.PRIO_PROCESS, 0)}
        try:
            warm = b"warm\n" if self.warm else proc.stdout.readline()  # waits for the imports if not done yet
            proc.stdin.write(json.dumps(claim).encode() + b"\n")
            proc.stdin.flush()
            answer = proc.stdout.readline()
        except OSError:
            warm = answer = b""
        proc.stdin.close()
        proc.stdout.close()
        if warm != b"warm\n" or answer != b"ok\n":
            proc.kill()
            proc.wait(10)
            self.off = answer == b"refused\n"  # not allowed here: never again this session
            self.miss = f"spare-answered:{warm!r}/{answer!r}"[:80]
            self.spawn()
            return None
        self.spawn()
        return proc

    @staticmethod
    def _base_env() -> dict[str, str]:
        """The environment a spare starts with: the test process's own, offline."""
        return {**os.environ, "HF_HUB_OFFLINE": "1"}

    def _fits(self, env: dict[str, str]) -> bool:
        return not self._differs(env)

    def _differs(self, env: dict[str, str]) -> list[str]:
        """The names of the variables, other than those read only at run time, in which ``env`` differs from the
        spare's."""
        keys = set(env) | set(self.env)
        return sorted(k for k in keys if not k.startswith(RUNTIME_ONLY) and env.get(k) != self.env.get(k))

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None


def _may_lower_nice() -> bool:
    """Whether this process may give a spare back its priority after nice 19: root (CAP_SYS_NICE) or a
    ``RLIMIT_NICE`` that allows the test's own nice value."""
    limit = resource.getrlimit(resource.RLIMIT_NICE)[0]
    return os.geteuid() == 0 or limit == resource.RLIM_INFINITY or limit >= 20 - os.getpriority(os.PRIO_PROCESS, 0)


SPARES = _Spares()
