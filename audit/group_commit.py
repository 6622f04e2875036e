"""The write side every audit log backend shares: a queue, one writer thread, group commit, signed checkpoints.

Callers ``submit`` entries; the writer thread drains everything queued, appends it in one transaction and
commits (one fsync for the whole group), and only then resolves each future with the entry's index. So an
acknowledged entry survives ``kill -9`` and power loss, while the cost of durability is shared by every
request that arrived during the previous commit. Any failure fails the futures of its group and never kills
the writer. A backend supplies the transaction (``_insert``), how its writer connection recovers
(``_reset_writer``), when it signs (``_maybe_checkpoint``, using ``_sign_checkpoint``) and what it closes.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from abc import abstractmethod
from collections.abc import Callable, Mapping
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from audit.canonical import canonical_json
from audit.checkpoint import CheckpointSigner, parse_checkpoint, verify_checkpoint
from audit.errors import AuditError, LogWriteError
from audit.log_reads import LogReads, text_or_none
from audit.merkle import leaf_hash

_log = logging.getLogger(__name__)


@dataclass
class Entry:
    """A submitted entry on its way to the database: the leaf, its hash and the indexed columns."""

    leaf: bytes
    leaf_hash: bytes
    event: str | None
    tenant: str | None
    time: str | None
    future: Future[int]

    def row(self, index: int) -> tuple[int, bytes, bytes, str | None, str | None, str | None]:
        """The stored row of this entry at ``index``, in the entries table's column order."""
        return (index, self.leaf, self.leaf_hash, self.event, self.tenant, self.time)


@dataclass
class Control:
    """A request for the writer thread, queued behind the entries before it: sign now, or stop."""

    kind: str  # "checkpoint", "close" or "cosigned"
    future: Future[str]
    note: str | None = None  # for "cosigned": the checkpoint with the witnesses' cosignatures


def rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class GroupCommitLog(LogReads):
    """An append-only Merkle log with group commit; see :class:`audit.backend.AuditLogBackend`."""

    no_checkpoint: ClassVar[str]  # why ``checkpoint_now`` has no checkpoint to return

    def __init__(
        self,
        signer: CheckpointSigner | None,
        origin: str,
        checkpoint_interval_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self._signer, self._origin = signer, origin
        self._interval, self._clock = checkpoint_interval_s, clock
        self._read_lock = threading.Lock()
        self._queue: queue.SimpleQueue[Entry | Control] = queue.SimpleQueue()
        self._closed = False
        self._held: str | None = None  # why signing is held (a witness refused); None while it signs
        self._listeners: list[Callable[[str], None]] = []

    def _start(self) -> None:
        """Start the writer thread: the subclass calls this once its connections are open and the tree loaded."""
        self._last_checkpoint_at = self._clock()
        self._thread = threading.Thread(target=self._run, name="audit-log-writer", daemon=True)
        self._thread.start()

    # ---- backend hooks ------------------------------------------------------------------------------------
    @abstractmethod
    def _insert(self, batch: list[Entry]) -> int:
        """In one committed transaction, take in others' entries, then store ``batch`` after them: its first index."""

    @abstractmethod
    def _reset_writer(self) -> None:
        """After a failed write or checkpoint: leave the writer connection usable (roll back, or reconnect later)."""

    @abstractmethod
    def _store_checkpoint(self, size: int, root: bytes, note: str, time: str) -> None:
        """Store a signed checkpoint note."""

    @abstractmethod
    def _update_checkpoint_note(self, size: int, note: str) -> None:
        """Replace the stored note of the checkpoint of ``size`` (same checkpoint, cosignatures added)."""

    @abstractmethod
    def _maybe_checkpoint(self, force: bool) -> None:
        """Sign a checkpoint (``_sign_checkpoint``) if one is due, or now when ``force``."""

    @abstractmethod
    def _close_writer(self) -> None:
        """Release the writer's connections (the writer thread is stopping)."""

    @abstractmethod
    def _close_reader(self) -> None:
        """Release the reader's connection (``_read_lock`` held)."""

    def _idle_timeout(self) -> float | None:
        """How long the writer waits for entries before checking for a due checkpoint (None: for ever)."""
        pending = self._signer is not None and self._tree.size != self._checkpointed_size
        return self._interval if pending else None

    def _final_checkpoint(self) -> None:
        """The checkpoint ``checkpoint_now`` and ``close`` return: signed now if the size changed."""
        self._maybe_checkpoint(force=True)

    # ---- the write path -----------------------------------------------------------------------------------
    def submit(self, entry: Mapping[str, Any]) -> Future[int]:
        """Queue ``entry``; the future resolves to its index once committed, or fails with LogWriteError."""
        future: Future[int] = Future()
        try:
            leaf = canonical_json(dict(entry))
        except Exception as exc:  # rfc8785 raises several types; none may escape as a crash
            _settle(future, error=LogWriteError(f"entry is not serializable as canonical JSON: {type(exc).__name__}"))
            return future
        if self._closed:
            _settle(future, error=LogWriteError("audit log is closed"))
            return future
        self._queue.put(Entry(leaf, leaf_hash(leaf), text_or_none(entry.get("event")),
                              text_or_none(entry.get("tenant")), text_or_none(entry.get("time")), future))  # fmt: skip
        return future

    def append(self, entry: Mapping[str, Any]) -> int:
        """Append ``entry`` durably and return its index."""
        return self.submit(entry).result()

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=self._idle_timeout())
            except queue.Empty:
                self._periodic_checkpoint()
                continue
            batch = [first, *self._drain()]
            entries = [b for b in batch if isinstance(b, Entry)]
            controls = [b for b in batch if isinstance(b, Control)]
            committed = self._commit(entries) if entries else []
            self._periodic_checkpoint()  # before acknowledging, so a due checkpoint already covers them
            for index, e in committed:
                _settle(e.future, result=index)
            for control in controls:
                self._handle(control)
                if control.kind == "close":
                    return

    def _drain(self) -> list[Entry | Control]:
        items: list[Entry | Control] = []
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                return items

    def _commit(self, batch: list[Entry]) -> list[tuple[int, Entry]]:
        """Store and commit ``batch`` in one transaction; (index, entry) pairs, or [] after failing its futures."""
        try:
            start = self._insert(batch)
        except Exception as exc:  # any failure must fail the futures, never kill the writer
            _log.warning("audit append failed: %s", type(exc).__name__)
            self._reset_writer()
            error = LogWriteError(f"audit log write failed: {type(exc).__name__}")
            for e in batch:
                _settle(e.future, error=error)
            return []
        with self._tree_lock:
            for i, e in enumerate(batch):
                if start + i == self._tree.size:  # a reader may have absorbed our committed rows already
                    self._tree.append(e.leaf_hash)
        return [(start + i, e) for i, e in enumerate(batch)]

    def _periodic_checkpoint(self) -> None:
        try:
            self._maybe_checkpoint(force=False)
        except Exception as exc:  # retried on the next batch; entries stay durable, the writer must live
            _log.warning("audit checkpoint failed: %s", type(exc).__name__)
            self._reset_writer()

    def _sign_checkpoint(self, now: float) -> None:
        """Sign and store a checkpoint of the whole tree, make it the latest and tell the listeners."""
        if self._signer is None or self._held is not None:  # no signer: callers check already
            return
        size = self._tree.size
        root = self._tree.root(size)
        note = self._signer.sign(self._origin, size, root)
        self._store_checkpoint(size, root, note, rfc3339(now))
        with self._tree_lock:
            self._latest, self._checkpointed_size = note, size
        for listener in self._listeners:
            try:
                listener(note)
            except Exception as exc:  # a listener (publication, witnesses) must never stop the writer
                _log.error("audit checkpoint listener failed: %s", type(exc).__name__)

    # ---- signing control ----------------------------------------------------------------------------------
    def on_checkpoint(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(note)`` on the writer thread after each checkpoint this process signs; it must be quick."""
        self._listeners.append(listener)

    def add_cosignatures(self, note: str) -> None:
        """Keep ``note``, a checkpoint this log signed with witnesses' cosignatures added, as the stored one."""
        if not self._closed:
            self._queue.put(Control("cosigned", Future(), note))

    def hold_signing(self, reason: str) -> None:
        """Sign no further checkpoint (entries are still appended) until this process restarts."""
        self._held = reason

    @property
    def signing_held(self) -> str | None:
        """Why signing is held, or None."""
        return self._held

    def _keep_cosigned(self, note: str) -> None:
        """Store a checkpoint this log signed, now with cosignatures, in place of the plain note (writer thread)."""
        try:
            cp = parse_checkpoint(note)
            if self._signer is None or cp.size > self._tree.size or self._tree.root(cp.size) != cp.root:
                return
            verify_checkpoint(note, self._signer.public_key())
            self._update_checkpoint_note(cp.size, note)
        except Exception as exc:  # the plain checkpoint stays; the writer must live
            _log.warning("storing a cosigned checkpoint failed: %s", type(exc).__name__)
            self._reset_writer()
            return
        with self._tree_lock:
            if cp.size == self._checkpointed_size:
                self._latest = note

    def _handle(self, control: Control) -> None:
        if control.kind == "cosigned" and control.note is not None:
            self._keep_cosigned(control.note)
            return
        try:
            self._final_checkpoint()
        except Exception as exc:  # reported to the caller; the writer must live
            _settle(control.future, error=LogWriteError(f"checkpoint failed: {type(exc).__name__}"))
            return
        finally:
            if control.kind == "close":
                self._close_writer()
        if self._latest is None:
            _settle(control.future, error=AuditError(self.no_checkpoint))
        else:
            _settle(control.future, result=self._latest)

    # ---- control ------------------------------------------------------------------------------------------
    def checkpoint_now(self) -> str:
        """Sign a checkpoint now (if the size changed and this writer signs) and return the latest one."""
        future: Future[str] = Future()
        self._queue.put(Control("checkpoint", future))
        return future.result()

    def close(self) -> None:
        """Commit queued entries, write a final checkpoint and stop the writer."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(Control("close", Future()))
        self._thread.join()
        for item in self._drain():  # entries that raced with close(): fail them rather than leave callers waiting
            if isinstance(item, Entry):
                _settle(item.future, error=LogWriteError("audit log is closed"))
        with self._read_lock:
            self._close_reader()


def _settle(future: Future[Any], result: Any = None, error: BaseException | None = None) -> None:
    """Resolve ``future`` unless its caller cancelled it. A request that timed out while awaiting its entry cancels
    the future (asyncio's ``wrap_future`` passes the cancellation on); ``set_result`` on it raised
    ``InvalidStateError`` in the writer thread, which died, and every later entry waited for ever. The entry itself
    is still written: only the answer to a caller who left is dropped."""
    if future.cancelled():
        return
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
    except InvalidStateError:  # cancelled between the check and here
        pass
