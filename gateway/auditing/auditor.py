"""The gateway side of the audit log: builds entries (no text, no PII values) and waits until they are durable.

Every decision, denials included, goes through ``Auditor.record`` before the response is sent; if the entry
cannot be written the request fails closed with ``Unavailable``.

An entry holds no attacker-chosen text (``docs/audit.md``, "What an entry may contain"):
- the route is the matched template (``GET /v1/collections/{name}``), never the raw path;
- a caller-chosen identifier (``collection``, ``document_id``) is written only as a keyed digest
  (``collection_digest``, ``document_digest``: HMAC-SHA256 under the tenant's input-digest secret, 32 hex);
- a string longer than ``MAX_STRING`` is withheld, and no entry exceeds ``max_entry_bytes`` of canonical JSON:
  the largest lists are cut, with their full lengths under ``truncated`` and a SHA-256 of the cut lists;
- past ``burst`` unauthenticated failures per window (a missing or bad key, and a request no route or method
  matched), they are counted per (event, route template, code) in one ``auth.failure.aggregate`` entry per
  window instead of one entry each; a refused key that exists (a wrong secret, a revoked or expired key) is its
  tenant's failure, counted in an aggregate entry of that tenant (with its key id and reason), so a flood of
  garbage cannot hide from a tenant's auditors that its key is being guessed at or still used.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import hmac
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import msgspec

from audit.canonical import canonical_json
from audit.checkpoint import CheckpointSigner
from audit.sqlite_log import SQLiteAuditLog
from gateway.crypto.keyfiles import KeyMaterial
from gateway.errors import Unavailable
from gateway.observability import tracing
from gateway.settings import Settings
from gateway.witnessing.published import guard_log

log = logging.getLogger(__name__)

AUDIT_KEY_NAME = "gateway-audit"
# Caller-chosen identifiers and the field their keyed digest is written under.
DIGESTED = {"collection": "collection_digest", "document_id": "document_digest"}
MAX_STRING = 512  # longer strings are withheld: no legitimate field (digests, versions, names) comes near it
AGGREGATE_EVENT = "auth.failure.aggregate"
# Events an unauthenticated request can cause, counted in the aggregate past the burst.
UNAUTHENTICATED_EVENTS = frozenset({"auth.failure", "request.invalid"})
# Never cut to fit: the decision and who, what, when.
_CORE = frozenset({"v", "time", "event", "decision", "request_id", "route", "tenant", "subject", "key_id", "role",
                   "status", "code", "count", "truncated", "truncated_digest"})

SecretFor = Callable[[str, str], bytes]


class AuditSink(Protocol):
    def submit(self, entry: Mapping[str, Any]) -> concurrent.futures.Future[int]: ...


@dataclass
class RequestContext:
    request_id: str
    route: str  # "METHOD /template/{param}": never the raw path
    tenant: str | None = None
    subject: str | None = None
    key_id: str | None = None
    role: str | None = None
    auth: str | None = None  # how the caller was authenticated: "api_key" or "oidc"
    audit_index: int | None = None  # None once recorded: counted in an aggregate entry
    extra_headers: dict[str, str] = field(default_factory=dict)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


# The methods an entry names; any other is "OTHER" (a method is a token the caller chooses).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})
UNMATCHED = "unmatched"  # the route of a request no route matched: never its raw path


def route_of(method: str, scope: Mapping[str, Any]) -> str:
    """The audited route: the method and the matched template (a raw path is whatever the caller sent)."""
    return f"{method if method in METHODS else 'OTHER'} {scope.get('path_template') or UNMATCHED}"


def _clean(value: Any, withheld: list[str], path: str = "") -> Any:
    """Drop None values (entries stay small), turn tuples into lists, withhold over-long strings."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v, withheld, f"{path}.{k}" if path else str(k))
                for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_clean(v, withheld, path) for v in value]
    if isinstance(value, str) and len(value) > MAX_STRING:
        withheld.append(path)
        return f"<withheld: {len(value)} characters>"
    return value


def _size(entry: Mapping[str, Any], cap: int) -> int:
    """Canonical size; msgspec's length is within a few bytes of it and 30x cheaper, so most entries skip it."""
    quick = len(msgspec.json.encode(entry))
    return quick if quick < cap * 0.9 else len(canonical_json(entry))


def fit(entry: dict[str, Any], cap: int) -> dict[str, Any]:
    """``entry`` within ``cap`` bytes: halve its largest lists (then drop its largest other fields) until it fits,
    saying under ``truncated`` what was cut and committing to the cut values with ``truncated_digest``."""
    if _size(entry, cap) <= cap:
        return entry
    out, cut = dict(entry), dict(entry.get("truncated", {}))
    original: dict[str, Any] = {}
    while _size(out, cap) > cap:
        lists = [k for k, v in out.items() if isinstance(v, list) and v and k not in _CORE]
        others = [k for k in out if k not in _CORE and not isinstance(out[k], list)]
        if lists:
            name = max(lists, key=lambda k: len(msgspec.json.encode(out[k])))
            original.setdefault(name, entry[name])
            cut[name] = len(entry[name])
            out[name] = out[name][: len(out[name]) // 2]
        elif others:
            name = max(others, key=lambda k: len(msgspec.json.encode(out[k])))
            original.setdefault(name, entry[name])
            cut[name] = "withheld"
            del out[name]
        else:  # only the core is left: it is small by construction
            break
        out["truncated"] = cut
        out["truncated_digest"] = hashlib.sha256(canonical_json(original)).hexdigest()
    return out


class UnauthenticatedFlood:
    """Per window, the first ``burst`` unauthenticated failures are entries of their own; later ones are counted
    per (event, route template, code) and written as one aggregate entry when the window ends, and one more per
    tenant whose existing keys were refused (counted per key id and reason as well)."""

    def __init__(self, burst: int, window_s: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.burst, self.window_s, self._now = burst, window_s, monotonic
        self._lock = threading.Lock()
        self._start: float | None = None
        self._started_at = ""
        self._admitted = 0
        self._counts: Counter[tuple[str, str, str, str, str, str]] = Counter()  # tenant, key, reason, event...

    def admit(self, wall_time: str) -> bool:
        """Whether this failure gets its own entry (else call ``count``). Opens a window at the first failure."""
        with self._lock:
            if self._start is None:
                self._start, self._started_at, self._admitted = self._now(), wall_time, 0
            self._admitted += 1
            return self._admitted <= self.burst

    def count(self, event: str, route: str, code: str, tenant: str = "", key_id: str = "", reason: str = "") -> float:
        """Count one failure beyond the burst (``tenant``, ``key_id`` and ``reason`` of a refused key that exists);
        returns seconds until its window ends."""
        with self._lock:
            self._counts[(tenant, key_id if tenant else "", reason if tenant else "", event, route, code)] += 1
            start = self._start if self._start is not None else self._now()
            return max(0.0, start + self.window_s - self._now())

    def pending(self) -> float | None:
        """Seconds until the open window ends, when failures are counted in it; else None."""
        with self._lock:
            if self._start is None or not self._counts:
                return None
            return self._start + self.window_s - self._now()

    def drain(self, wall_time: str, *, force: bool = False) -> list[dict[str, Any]]:
        """The aggregate entries' fields when the window is over (or ``force``), closing the window: the one without
        a tenant first, then one per tenant (empty: nothing was counted)."""
        with self._lock:
            if self._start is None or (not force and self._now() < self._start + self.window_s):
                return []
            counts, started = self._counts, self._started_at
            self._start, self._counts = None, Counter()
        by_tenant: dict[str, list[dict[str, Any]]] = {}
        for (tenant, key_id, reason, e, r, c), n in sorted(counts.items()):
            row: dict[str, Any] = {"event": e, "route": r, "code": c, "count": n}
            if tenant:
                row |= {"key_id": key_id, "reason": reason}
            by_tenant.setdefault(tenant, []).append(row)
        return [{"window_start": started, "window_end": wall_time, "count": sum(row["count"] for row in rows),
                 "counts": rows} | ({"tenant": tenant} if tenant else {}) for tenant, rows in by_tenant.items()]


class Auditor:
    def __init__(
        self,
        sink: AuditSink,
        secret_for: SecretFor,
        clock: Callable[[], str] = utc_now,
        *,
        max_entry_bytes: int = 16 * 1024,
        flood: UnauthenticatedFlood | None = None,
    ) -> None:
        self._sink = sink
        self._secret_for = secret_for
        self._clock = clock
        self._cap = max_entry_bytes
        self._flood = flood
        self._flush_scheduled = False
        self._unwaited: set[concurrent.futures.Future[int]] = set()  # entries ``note`` did not wait for
        self._unwaited_lock = threading.Lock()

    def digest(self, tenant: str | None, value: str) -> str:
        """A caller-chosen identifier as entries hold it: the ingest entry's ``id_digest`` of the same id."""
        key = self._secret_for(tenant or "*", "input-digest")
        return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:32]

    def entry(self, event: str, ctx: RequestContext | None, decision: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        base: dict[str, Any] = {"v": 1, "time": self._clock(), "event": event, "decision": decision}
        if ctx is not None:
            base.update(
                request_id=ctx.request_id, route=ctx.route, tenant=ctx.tenant, subject=ctx.subject,
                key_id=ctx.key_id, role=ctx.role,
            )
            if ctx.auth is not None:
                base["auth"] = ctx.auth
        base.update(fields)
        for name, digested in DIGESTED.items():
            value = base.pop(name, None)
            if isinstance(value, str):
                base[digested] = self.digest(base.get("tenant"), value)
        withheld: list[str] = []
        cleaned: dict[str, Any] = _clean(base, withheld)
        if withheld:
            cleaned["truncated"] = dict.fromkeys(withheld, "withheld")
        return fit(cleaned, self._cap)

    async def record(
        self, event: str, ctx: RequestContext | None, decision: str, **fields: Any
    ) -> int | None:
        """Append one entry and wait until it is durable; its index, or None for an unauthenticated failure past
        the burst, which is counted in the window's aggregate entry instead."""
        if self._counted(event, ctx, fields):
            return None
        try:
            with tracing.span("audit", {"gateway.decision": decision}):
                index = await asyncio.wrap_future(self._sink.submit(self.entry(event, ctx, decision, fields)))
                tracing.set_attributes({"gateway.audit_index": index})
        except Exception as exc:
            log.error("audit append failed for event %s: %s: %s", event, type(exc).__name__, exc)
            raise Unavailable("the audit log cannot be written; the request was not carried out") from exc
        if ctx is not None:
            ctx.audit_index = index
        return index

    def note(self, event: str, ctx: RequestContext, decision: str, **fields: Any) -> None:
        """Append one entry without waiting for it, for a refusal that changed nothing and that Litestar answers
        from a synchronous handler (an unknown route, a wrong method); a failed write is logged."""
        if self._counted(event, ctx, fields):
            return
        try:
            future = self._sink.submit(self.entry(event, ctx, decision, fields))
        except Exception as exc:
            log.error("could not audit %s: %s", event, type(exc).__name__)
            return
        with self._unwaited_lock:
            self._unwaited.add(future)
        future.add_done_callback(self._written)

    def _written(self, future: concurrent.futures.Future[int]) -> None:
        with self._unwaited_lock:
            self._unwaited.discard(future)
        _log_failure(future)

    def record_sync(self, event: str, decision: str, **fields: Any) -> int:
        """For the CLI and start/stop events, outside any request."""
        return self._sink.submit(self.entry(event, None, decision, fields)).result()

    def flush(self) -> None:
        """Write the pending aggregate entry now and wait for it and for the entries ``note`` did not wait for (at
        shutdown, and in tests)."""
        for fields in self._flood.drain(self._clock(), force=True) if self._flood is not None else []:
            self._sink.submit(self.entry(AGGREGATE_EVENT, None, "deny", fields)).result()
        with self._unwaited_lock:
            unwaited = list(self._unwaited)
        concurrent.futures.wait(unwaited)

    def _counted(self, event: str, ctx: RequestContext | None, fields: Mapping[str, Any]) -> bool:
        if self._flood is None or event not in UNAUTHENTICATED_EVENTS or (ctx is not None and ctx.tenant is not None):
            return False
        self._flush_due()  # a window that ended writes its aggregate before the next one opens
        if self._flood.admit(self._clock()):
            return False
        owner = fields.get("tenant")  # a refused key that exists: its tenant's failure, counted as such
        key_id = (ctx.key_id if ctx else None) or ""
        who = (owner, key_id, str(fields.get("reason", ""))) if isinstance(owner, str) and owner else ("", "", "")
        wait = self._flood.count(event, ctx.route if ctx else "-", str(fields.get("code", "-")), *who)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_later(wait, self._on_timer)
        return True

    def _on_timer(self) -> None:
        self._flush_scheduled = False
        self._flush_due()
        wait = self._flood.pending() if self._flood is not None else None
        if wait is not None:  # the timer fired a little early: come back when the window has ended
            self._flush_scheduled = True
            asyncio.get_running_loop().call_later(max(wait, 0.01), self._on_timer)

    def _flush_due(self) -> None:
        for fields in self._flood.drain(self._clock()) if self._flood is not None else []:
            try:
                future = self._sink.submit(self.entry(AGGREGATE_EVENT, None, "deny", fields))
            except Exception as exc:
                log.error("could not audit %s: %s", AGGREGATE_EVENT, type(exc).__name__)
                return
            future.add_done_callback(_log_failure)


def _log_failure(future: concurrent.futures.Future[int]) -> None:
    if future.exception() is not None:
        log.error("could not audit an entry written without waiting: %s", type(future.exception()).__name__)


def open_audit_log(settings: Settings, keys: KeyMaterial) -> SQLiteAuditLog:
    """The embedded audit log; several processes (gateway, CLI) may append to it: the database serializes them."""
    signer = CheckpointSigner(keys.audit_private_key, AUDIT_KEY_NAME)
    log = SQLiteAuditLog(
        settings.audit_db_path, signer, settings.origin, checkpoint_interval_s=settings.checkpoint_interval_s
    )
    guard_log(log, settings.keys_dir, keys.audit_public_key)  # refuses a rewritten log; raises after closing it
    return log
