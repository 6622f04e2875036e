"""The worker side of the PII pool (``gateway.pii.pool``): a worker process's main loop, and the parent's handle
on one worker process (its pipe, its death, its stop).

The protocol, one request at a time on a duplex pipe: the worker sends ``("ready", None)`` once spaCy and Presidio
are loaded (``("failed", error type)`` if they cannot be), then answers each ``("analyze", texts, scopes, seconds
left)`` or ``("rebuild", policy)`` with ``("ok", value)``, ``("too_costly", message)`` or ``("error", error type)``;
``None`` asks it to exit, and so does the end of the pipe (its parent is gone, however it ended).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import threading
import time
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any

from gateway.errors import ConfigurationError, DetectionTooCostly
from gateway.policy.loader import GatewayPolicy

# spaCy's thinc imports torch when it is installed, and Presidio transformers: the small spaCy pipeline and the
# pattern recognizers use neither, and they cost a worker about 300 MB and seconds of start (measured).
UNUSED_MODULES = ("torch", "transformers")


def keep_out_unused_modules() -> None:
    """Make importing ``UNUSED_MODULES`` fail from now on: spaCy and Presidio do without them."""
    for unused in UNUSED_MODULES:
        sys.modules.setdefault(unused, None)  # type: ignore[arg-type]  # None: "import fails" (ImportError)


def serve(conn: Connection, spacy_model: str, policy: GatewayPolicy, gateway: int) -> None:
    """A worker process's main loop: load the detector once, then answer requests until told to stop, until the
    gateway's end of the pipe closes, or until the gateway (process id ``gateway``) is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group; the parent stops us
    threading.Thread(target=_exit_with_gateway, args=(gateway,), name="parent-watch", daemon=True).start()
    keep_out_unused_modules()  # already so in a worker forked by the pool's fork server (gateway.pii.preload)
    try:
        from gateway.pii.detector import PresidioDetector

        detector = PresidioDetector(spacy_model, policy=policy)
    except Exception as exc:  # a setting or an install problem: say which, for the start-up error
        conn.send(("failed", str(exc) if isinstance(exc, ConfigurationError) else type(exc).__name__))
        return
    conn.send(("ready", None))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if request is None:
            return
        try:
            conn.send(_answer(detector, request))
        except (BrokenPipeError, OSError):
            return


def _exit_with_gateway(gateway: int, every_s: float = 0.5) -> None:
    """Exit as soon as the gateway is gone (kill -9), even mid-batch: the end of the pipe is read only between
    batches, and a batch of near-long texts has no detection budget (attack11: workers outlived a killed gateway
    by 12 to over 60 s, at full CPU).

    A worker forked by the pool's fork server is that server's child, and the server outlives the gateway while
    any worker lives (each holds its "alive" pipe), so the gateway's own process is watched: through a pidfd,
    which becomes readable when that process exits and never names another one. Without pidfds (not Linux) its
    id is polled, and a reparented worker leaves too; an id reused at once by another process would keep the
    worker until the end of its batch, when it reads end-of-file on its pipe."""
    if exited(gateway) is None:  # no pidfd on this system
        parent = os.getppid()
        while os.getppid() == parent and _runs(gateway):
            time.sleep(every_s)
    os._exit(0)


def exited(pid: int, timeout_s: float | None = None) -> bool | None:
    """Whether process ``pid`` has exited within ``timeout_s`` (None: wait until it has), seen through a pidfd,
    which becomes readable when that process exits and never names another one; None where there are no pidfds
    (not Linux): the caller then judges by other means."""
    try:
        watched = os.pidfd_open(pid)
    except ProcessLookupError:  # gone already
        return True
    except (AttributeError, OSError):
        return None
    try:
        readable, _, _ = select.select([watched], [], [], timeout_s)
    finally:
        os.close(watched)
    return bool(readable)


def _runs(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # runs, as another user
        return True
    return True


def _answer(detector: Any, request: tuple[Any, ...]) -> tuple[str, Any]:
    op = request[0]
    try:
        if op == "analyze":
            _, texts, scopes, budget_s = request
            return "ok", detector.analyze(texts, scopes, budget_s=budget_s)
        if op == "rebuild":
            detector.rebuild(request[1])
            return "ok", None
        return "error", "UnknownRequest"
    except DetectionTooCostly as exc:
        return "too_costly", exc.message  # our own wording: the budget, never the text
    except Exception as exc:
        return "error", type(exc).__name__


def restart_fork_server() -> None:
    """Stop multiprocessing's fork server so that the next worker starts a new one, in a temporary directory made
    again if it was removed (a /tmp cleaner, an operator): a server whose socket is gone can fork no replacement,
    and every dead worker's slot stayed empty (attack12). Its forked workers live on until their next batch, when
    the pool finds them lost (their exit status came through the old server) and replaces them."""
    from multiprocessing import forkserver, util

    os.makedirs(util.get_temp_dir(), mode=0o700, exist_ok=True)
    server: Any = forkserver._forkserver  # the module's one server: no public stop
    if server._forkserver_pid is not None:  # killed first: it outlives its "alive" pipe while its workers run
        with contextlib.suppress(ProcessLookupError):
            os.kill(server._forkserver_pid, signal.SIGKILL)
    with contextlib.suppress(OSError):  # its socket is already gone
        server._stop()


class WorkerLost(Exception):
    """The worker died (or its pipe broke) before answering."""


class WorkerLate(Exception):
    """The worker did not answer by the hard deadline."""


class WorkerProcess:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, ctx: BaseContext, index: int, spacy_model: str, policy: GatewayPolicy, generation: int):
        parent, child = ctx.Pipe()
        self.process: BaseProcess = ctx.Process(  # type: ignore[attr-defined]
            target=serve, args=(child, spacy_model, policy, os.getpid()), name=f"gateway-pii-{index}", daemon=True
        )
        self.process.start()
        child.close()
        self.conn = parent
        self.index = index
        self.generation = generation  # the pool's policy generation this worker screens under

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def idle_and_alive(self) -> bool:
        """Whether this idle worker can take a batch: it runs, and its pipe is quiet. An idle worker sends nothing,
        so a readable pipe is the end-of-file of one that died: seen at once, while its exit status reaches a
        forked worker's parent (the fork server, which reports it through a pipe of its own) a moment later."""
        try:
            return self.process.is_alive() and not self.conn.poll()
        except (OSError, ValueError):  # the pipe is closed
            return False

    def wait_ready(self, timeout_s: float) -> None:
        kind, value = self.receive(time.monotonic() + timeout_s)
        if kind != "ready":
            raise ConfigurationError(f"a PII detection worker could not load spaCy and Presidio ({value})")

    def call(self, request: tuple[Any, ...], deadline: float | None) -> tuple[str, Any]:
        try:
            self.conn.send(request)
        except (BrokenPipeError, OSError) as exc:
            raise WorkerLost from exc
        return self.receive(deadline)

    def receive(self, deadline: float | None) -> tuple[str, Any]:
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            ready = wait([self.conn, self.process.sentinel], timeout)
        except (OSError, ValueError) as exc:  # closed under us: the pool is closing
            raise WorkerLost from exc
        if self.conn in ready:  # an answer sent just before dying still counts
            try:
                answer: tuple[str, Any] = self.conn.recv()
            except (EOFError, OSError) as exc:
                raise WorkerLost from exc
            return answer
        if ready:
            raise WorkerLost
        raise WorkerLate

    def ask_to_stop(self) -> None:
        """Ask the worker to exit after its batch, without waiting (a pool asks all of its workers first)."""
        with contextlib.suppress(OSError):  # already dead: nothing to ask
            self.conn.send(None)

    def stop(self, timeout_s: float) -> None:
        """Ask the worker to exit; kill it if it has not within ``timeout_s``."""
        self.ask_to_stop()
        self.process.join(timeout_s)
        self.kill()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()
