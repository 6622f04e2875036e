"""Writes the log claims but the store never got: each one followed by an entry that says so.

An ingest is audited first and stored second, so that every stored chunk names the entry that recorded it. A
process killed between the two leaves an entry that says documents were stored when they were not. The store
records, in the same transaction as the chunks, the index of the entry they belong to (``Store.mark_unfinished``);
this sweep reads the entries that wrote chunks (``document.ingest``, a ``collection.migrate`` batch) and, for
every one whose write never committed, appends ``write.unfinished`` naming it. The auditor reads the pair.

The sweep runs at start, before requests (the embedded default: nothing else writes), and then periodically for
entries older than the request time limit (replicas may have writes in flight). Its progress is the index it has
checked up to, in ``<data dir>/ingest_reconciled.json``; marking is idempotent in the store, so replicas that
sweep the same entries write each ``write.unfinished`` once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from audit.atomic import write_atomically
from audit.backend import AuditLogBackend
from audit.report_scope import entry_time
from gateway.store.base import Store

log = logging.getLogger(__name__)
STATE_FILE = "ingest_reconciled.json"
EVENT = "write.unfinished"
WRITES = frozenset({"document.ingest", "collection.migrate"})
PAGE = 1000
_NEVER = datetime.min.replace(tzinfo=UTC)  # an entry without a readable time counts as old: it is checked


def _writes_chunks(entry: dict[str, Any]) -> bool:
    count = entry.get("count")
    return (entry.get("event") in WRITES and isinstance(count, int) and count > 0 and "phase" not in entry
            and entry.get("decision") in ("allow", "block"))


class IngestReconciler:
    def __init__(self, audit_log: AuditLogBackend, store: Store, record: Callable[..., int], data_dir: Path,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._log = audit_log
        self._store = store
        self._record = record  # Auditor.record_sync
        self._state = data_dir / STATE_FILE
        self._clock = clock

    def _next(self) -> int | None:
        try:
            return int(json.loads(self._state.read_text("utf-8"))["next"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            return 0  # a damaged mark: check everything again (marking is idempotent)

    def sweep(self, settle: timedelta = timedelta(0)) -> list[int]:
        """Check the entries since the last sweep that are older than ``settle``; returns the unfinished ones.

        The first sweep of a data dir starts at the log's end: entries written before the store recorded its
        commits (an older version) have no record to be checked against."""
        start, size = self._next(), self._log.size()
        if start is None:
            write_atomically(self._state, json.dumps({"next": size}).encode())
            return []
        cutoff = self._clock() - settle
        found: list[int] = []
        checked = start
        for lo in range(start, size, PAGE):
            leaves = self._log.entries(lo, min(size, lo + PAGE))
            candidates: list[tuple[int, dict[str, Any]]] = []
            settled = True
            for offset, leaf in enumerate(leaves):
                entry = json.loads(leaf)
                if settle and (entry_time(entry) or _NEVER) > cutoff:
                    settled = False
                    break
                checked = lo + offset + 1
                if _writes_chunks(entry):
                    candidates.append((lo + offset, entry))
            found += self._declare(candidates)
            if not settled:
                break
        if checked > start:
            write_atomically(self._state, json.dumps({"next": checked}).encode())
        return found

    def _declare(self, candidates: Sequence[tuple[int, dict[str, Any]]]) -> list[int]:
        by_index = dict(candidates)
        unfinished = self._store.mark_unfinished(list(by_index))
        for index in unfinished:
            entry = by_index[index]
            self._record(EVENT, "error", tenant=entry.get("tenant"), unfinished_index=index,
                         unfinished_event=entry.get("event"), count=0,
                         reason="the process stopped between this entry and the store's commit: nothing was stored")
            log.warning("audit entry %d claimed a write that never committed; recorded as %s", index, EVENT)
        return unfinished
