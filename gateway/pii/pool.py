"""PII detection in a pool of worker processes: the ``PIIDetector`` interface, with ``PresidioDetector`` in each.

Why: spaCy and Presidio are Python. In the gateway's process a batch's screening holds the interpreter lock, so
a long document screened on one thread slows every request the event loop serves, and detection never uses more
than about one core. Each worker here is a process of its own that loads spaCy and Presidio once and then
screens whole batches. Workers are forked from multiprocessing's fork server, never from the gateway (which has
threads and torch running by then): the server is a fresh process that has imported spaCy, Presidio and the
detector once (``gateway.pii.preload``, no thread, no torch), so a worker, or the replacement of a dead one, only
loads the spaCy pipeline and builds its recognizers (``start_method`` "spawn" starts each from nothing).

    caller thread (a MicroBatcher worker)           worker process (gateway.pii.worker), one per slot
      analyze(texts, scopes, budget_s)
        take an idle worker ------- ("analyze", texts, scopes, seconds left) ---->  PresidioDetector.analyze
        wait for its answer or its death <------- ("ok", findings) | ("too_costly", message) | ("error", type)

One batch runs on one worker; as many batches run at once as there are workers (the PII stage's micro-batcher
gets as many threads). Failure is closed, never open: a text is screened or its request is refused.

* The detection budget starts when ``analyze`` is called (waiting for a free worker counts, as waiting for the
  in-process detector's lock does). The worker checks what is left between its stages and answers
  ``too_costly``; one that is still busy ``kill_grace_s`` past the deadline is killed (a process can be stopped
  mid-stage, a thread cannot) and replaced. Either way the caller gets ``DetectionTooCostly``. A batch without a
  budget that its worker has not answered within ``hang_s`` (a stopped or hung worker) gets ``Unavailable`` and
  the worker is replaced.
* A worker that dies (killed, out of memory) fails the batch it held with ``Unavailable`` (503) and is replaced
  in the background; the other workers go on serving. While no worker runs and every replacement has failed
  (it tries again after a pause), a batch is refused at once (503 with Retry-After) instead of waiting for one.
  A replacement is forked outside the pool's lock: a stopped or hung fork server holds only that replacement.
* ``rebuild(policy)`` reaches every worker: each idle one is rebuilt at once, a busy one when its batch ends, and
  a worker always catches up before its next batch, so no batch is screened under an older policy than the one
  in force when it was dispatched. A worker that cannot rebuild is replaced by one started on the new policy.
* ``close`` lets batches in flight finish (at most ``timeout_s``), then stops every worker; a worker whose parent
  dies without closing (kill -9) exits at once, mid-batch too (it watches the gateway's process, and reads
  end-of-file on its pipe between batches), so none is left behind; the fork server then exits too.

Only types, counts and our own messages cross back from a worker: never an exception's text, which might quote
the input.

Each worker costs about 170 MB and a few seconds of start (spaCy's load): torch and transformers, which spaCy and
Presidio import when installed but this detector never uses, are kept out of it (``gateway.pii.worker``).
Both start methods import the parent's main module again in each worker (as ``__mp_main__``): the gateway's
console script imports nothing heavy; a script that starts a pool keeps its heavy imports under its main guard
(``bench/pii_speed.py``).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from multiprocessing.context import ForkServerContext

from gateway.errors import ConfigurationError, DetectionTooCostly, Unavailable
from gateway.pii.detector_types import Finding
from gateway.pii.spacy_pipeline import DEFAULT_SPACY_MODEL, PRELOAD_ENV, pipeline_path
from gateway.pii.worker import WorkerLate, WorkerLost, WorkerProcess, restart_fork_server
from gateway.policy.loader import GatewayPolicy, ScopePolicy

log = logging.getLogger(__name__)

PRELOAD = "gateway.pii.preload"  # what the fork server imports before its first fork


class PoolDetector:
    """``PIIDetector`` over ``workers`` processes, each running ``PresidioDetector`` (see the module docstring)."""

    def __init__(
        self,
        workers: int,
        *,
        policy: GatewayPolicy,
        spacy_model: str = DEFAULT_SPACY_MODEL,
        start_timeout_s: float = 180.0,
        kill_grace_s: float = 2.0,
        hang_s: float = 60.0,
        start_method: str = "forkserver",
        wait: bool = True,
    ) -> None:
        """Start the workers; with ``wait`` False they load in the background (the gateway loads its model
        meanwhile) until ``ready()`` or the first ``analyze``, which wait for them and raise if one failed."""
        if workers < 1:
            raise ConfigurationError("a PII worker pool needs at least one worker")
        if start_method == "fork":
            raise ConfigurationError("PII workers must not be forked from a process that runs threads and torch")
        self._ctx = multiprocessing.get_context(start_method)
        if isinstance(self._ctx, ForkServerContext):  # the server is started once per process, by its first fork
            self._ctx.set_forkserver_preload([PRELOAD])
            _name_preloaded_pipeline(spacy_model)
        self._spacy_model = spacy_model
        self._start_timeout_s = start_timeout_s
        self._kill_grace_s = kill_grace_s
        self._hang_s = hang_s  # a batch without a budget that a worker has not answered by then: a hung worker
        self._cond = threading.Condition()
        self._policy = policy
        self._generation = 0
        self._size = workers
        self._next_index = workers
        self._workers: dict[int, WorkerProcess] = {}  # every live worker: starting, idle or busy
        self._starting: set[int] = set()  # replacements still loading
        self._coming = 0  # replacements asked for or forking, not yet in _workers (nor pausing after a failure)
        self._forks = threading.Lock()  # one fork or fork-server restart at a time: a restart cuts no other's fork
        self._idle: deque[WorkerProcess] = deque()
        self._closed = False
        self._started = time.monotonic()
        self._loading = threading.Lock()  # held while the first workers are awaited
        self._pending = [WorkerProcess(self._ctx, i, spacy_model, policy, 0) for i in range(workers)]
        self._workers = {w.index: w for w in self._pending}
        if wait:
            self.ready()

    def ready(self) -> None:
        """Wait for the first workers to load; ``ConfigurationError`` (and every worker stopped) if one cannot."""
        with self._loading:
            if not self._pending:
                return
            try:
                for worker in self._pending:
                    worker.wait_ready(max(1.0, self._start_timeout_s - (time.monotonic() - self._started)))
            except BaseException as exc:
                with self._cond:
                    self._closed = True
                for worker in self._pending:  # none has a batch: stopped at once
                    worker.kill()
                self._pending = []
                if isinstance(exc, WorkerLost | WorkerLate):
                    raise ConfigurationError("a PII detection worker exited or hung while loading spaCy and "
                                             f"Presidio (start_timeout_s {self._start_timeout_s:g})") from exc
                raise
            with self._cond:
                self._idle.extend(self._pending)
                self._cond.notify_all()
            self._pending = []
            log.info("PII detection: %d worker processes ready %.1f s after their start", self._size,
                     time.monotonic() - self._started)

    @property
    def size(self) -> int:
        """Batches that can be screened at once: the number of worker slots (a replacement takes its dead one's)."""
        return self._size

    def pids(self) -> list[int]:
        """The worker processes' ids (for tests and operators' tooling)."""
        with self._cond:
            return [w.pid for w in self._workers.values() if w.pid is not None]

    def analyze(
        self, texts: Sequence[str], scopes: Sequence[ScopePolicy], budget_s: float | None = None
    ) -> list[list[Finding]]:
        if len(texts) != len(scopes):
            raise ValueError("texts and scopes differ in length")
        if not texts:
            return []
        if self._pending:
            self.ready()
        deadline = None if budget_s is None else time.monotonic() + budget_s
        worker = self._checkout(deadline, budget_s)
        try:
            self._catch_up(worker)
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                self._checkin(worker)
                raise DetectionTooCostly.within(budget_s)
            hard = time.monotonic() + self._hang_s if deadline is None else deadline + self._kill_grace_s
            kind, value = worker.call(("analyze", list(texts), list(scopes), left), hard)
        except WorkerLate:
            if budget_s is None:  # stopped (SIGSTOP) or hung: it held this batch and its slot forever (attack12)
                log.warning("PII worker %d did not answer within %g s; replacing it", worker.index, self._hang_s)
                self._replace(worker)
                raise Unavailable("a PII detection worker stopped answering (it is being replaced); the texts "
                                  "were not embedded or stored; retry shortly", retry_after=1.0) from None
            log.warning("PII worker %d ran past the detection budget; replacing it", worker.index)
            self._replace(worker)
            raise DetectionTooCostly.within(budget_s) from None
        except WorkerLost:
            self._replace(worker)
            raise Unavailable("a PII detection worker stopped while screening this batch (it is being replaced); "
                              "the texts were not embedded or stored; retry shortly", retry_after=1.0) from None
        except (DetectionTooCostly, Unavailable):
            raise
        except BaseException:  # the pipe's state is unknown: never reuse it
            self._replace(worker)
            raise
        self._checkin(worker)
        if kind == "ok":
            findings: list[list[Finding]] = value
            return findings
        if kind == "too_costly":
            raise DetectionTooCostly(str(value))
        raise Unavailable(f"PII detection failed in a worker ({value}); the texts were not embedded or stored")

    def rebuild(self, policy: GatewayPolicy) -> None:
        """Bring every worker to ``policy``: the idle ones now, the busy ones as their batches end (waiting at
        most ``start_timeout_s``; any worker left behind still catches up before its next batch)."""
        if self._pending:
            self.ready()
        with self._cond:
            self._policy = policy
            self._generation += 1
            generation = self._generation
        until = time.monotonic() + self._start_timeout_s
        while True:
            with self._cond:
                behind = [w for w in self._workers.values() if w.generation < generation]
                idle = next((w for w in self._idle if w.generation < generation), None)
                if not behind or self._closed:
                    return
                if idle is None:
                    if not self._cond.wait(max(0.0, until - time.monotonic())):
                        return
                    continue
                self._idle.remove(idle)
            try:
                self._catch_up(idle)
            except (WorkerLost, WorkerLate):
                self._replace(idle)
                continue
            self._checkin(idle)

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop every worker: batches in flight may finish within ``timeout_s``, then whatever is left is killed."""
        until = time.monotonic() + timeout_s
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            # Batches in flight may finish; workers still loading have none; a fork under way ends (then closed).
            while ((self._coming or len(self._idle) + len(self._starting) + len(self._pending) < len(self._workers))
                   and time.monotonic() < until):
                self._cond.wait(max(0.0, until - time.monotonic()))
            workers = list(self._workers.values())
            self._workers.clear()
            self._idle.clear()
        for worker in workers:  # all at once: each takes about half a second to exit (2 s for three, one by one)
            worker.ask_to_stop()
        for worker in workers:
            worker.stop(max(0.5, until - time.monotonic()))

    def _checkout(self, deadline: float | None, budget_s: float | None) -> WorkerProcess:
        """An idle, live worker. One that died while idle (killed, out of memory) held no batch: it is replaced and
        this batch goes to another, rather than failing with 503 on its closed pipe."""
        while True:
            worker = self._take_idle(deadline, budget_s)
            if worker.idle_and_alive():
                return worker
            self._replace(worker)

    def _take_idle(self, deadline: float | None, budget_s: float | None) -> WorkerProcess:
        # One limit for the whole wait: renewed at every wake-up (a worker checked in and taken by another batch,
        # a replacement that failed), a wait of start_timeout_s had no end while replacements kept failing.
        until = time.monotonic() + self._start_timeout_s if deadline is None else deadline
        with self._cond:
            while not self._idle:
                if self._closed:
                    raise Unavailable("PII detection is shutting down")
                if not self._workers and not self._coming:  # every slot empty, each replacement pausing
                    raise Unavailable("no PII detection worker is running (replacements are being started); retry "
                                      "shortly", retry_after=1.0)
                left = until - time.monotonic()
                if left <= 0 and deadline is not None:
                    raise DetectionTooCostly.within(budget_s)
                if left <= 0:
                    raise Unavailable("no PII detection worker became free in time; retry shortly", retry_after=1.0)
                self._cond.wait(left)
            return self._idle.popleft()

    def _checkin(self, worker: WorkerProcess) -> None:
        with self._cond:
            if worker.index in self._workers:
                self._idle.append(worker)
            self._cond.notify_all()

    def _catch_up(self, worker: WorkerProcess) -> None:
        """Rebuild ``worker`` on the policy in force if it screens under an older one; replace it if it cannot."""
        with self._cond:
            generation, policy = self._generation, self._policy
        if worker.generation == generation:
            return
        # Bounded as a batch without a budget is: a stopped or hung worker held the caller (a batch's thread, or the
        # policy watcher, which then reloaded nothing more) for good.
        kind, value = worker.call(("rebuild", policy), time.monotonic() + self._hang_s)
        if kind != "ok":
            log.error("PII worker %d could not load the new policy (%s); replacing it", worker.index, value)
            raise WorkerLost
        worker.generation = generation

    def _replace(self, worker: WorkerProcess) -> None:
        """Kill ``worker`` (if it is not dead already) and start another in its place, in the background.

        The dead worker is reaped in the background too: a forked worker's exit status comes through the fork
        server, and with that server stopped the wait for it (up to 5 s) held the batch that found the worker dead."""
        code = worker.process.exitcode
        if worker.process.is_alive():  # at once: a hung worker stops screening now
            worker.process.kill()
        with self._cond:
            self._workers.pop(worker.index, None)
            if worker in self._idle:
                self._idle.remove(worker)
            self._cond.notify_all()
            closed = self._closed
            if not closed:
                self._coming += 1  # counted from now: a batch must not find the pool empty before the thread runs
        if closed:
            worker.kill()
            return
        log.warning("PII worker %d (exit code %s) is being replaced", worker.index, code)
        threading.Thread(target=self._start_one, args=(worker,), name="pii-worker-start", daemon=True).start()

    def _start_one(self, dead: WorkerProcess) -> None:
        """Start a replacement and add it to the idle workers once it has loaded; retried with a growing pause
        while it fails (the pool serves with the workers it has meanwhile).

        The fork happens outside the pool's lock: it waits for the fork server's answer (the new process's id), and
        a stopped or hung server never gives one. Under the lock, that wait held every batch of the pool, the idle
        workers' too, and ``close`` (each request got 504 at its limit, none 503, until the server went on)."""
        dead.kill()  # reaped, its pipe closed
        pause_s = 0.0  # the first try is counted in _coming by _replace
        while True:
            if pause_s:
                time.sleep(pause_s)
                with self._cond:
                    if self._closed:
                        return
                    self._coming += 1
            pause_s = min(30.0, 2 * pause_s + 1)  # before the next try, if this one fails
            with self._cond:
                if self._closed:
                    self._coming -= 1
                    self._cond.notify_all()
                    return
                index, self._next_index = self._next_index, self._next_index + 1
                policy, generation = self._policy, self._generation  # caught up before its first batch if older
            with self._forks:
                try:
                    worker = WorkerProcess(self._ctx, index, self._spacy_model, policy, generation)
                except (OSError, EOFError) as exc:  # the server unreachable (its socket removed) or gone mid-fork
                    with self._cond:
                        self._coming -= 1
                        self._cond.notify_all()
                        if self._closed:  # the server is the process's, not this pool's: left alone once closed
                            return
                    log.error("could not reach the PII fork server (%s); restarting it", type(exc).__name__)
                    restart_fork_server()
                    continue
            with self._cond:
                self._coming -= 1
                closed = self._closed
                if not closed:
                    self._workers[index] = worker
                    self._starting.add(index)
                self._cond.notify_all()
            if closed:  # the pool closed while it forked: it has no batch
                worker.kill()
                return
            try:
                worker.wait_ready(self._start_timeout_s)
            except (WorkerLost, WorkerLate, ConfigurationError):
                with self._cond:
                    self._workers.pop(index, None)
                    self._starting.discard(index)
                    self._cond.notify_all()
                worker.kill()
                log.error("a replacement PII worker did not start; trying again")
                continue
            with self._cond:
                self._starting.discard(index)
                if not self._closed:
                    self._idle.append(worker)
                    self._cond.notify_all()
                    return
            worker.stop(5.0)
            return


def _name_preloaded_pipeline(spacy_model: str) -> None:
    """Name the pipeline the fork server loads before it forks (``gateway.pii.spacy_pipeline.preload``): it reads
    it from the environment it inherits when the pool's first worker starts it. A name that resolves to nothing is
    left to the workers, which report it."""
    try:
        os.environ[PRELOAD_ENV] = str(pipeline_path(spacy_model))
    except ConfigurationError:
        os.environ.pop(PRELOAD_ENV, None)
