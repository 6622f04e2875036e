"""The gateway side of the audit log: builds entries (no text, no PII values) and waits until they are durable.

Every decision, denials included, goes through ``Auditor.record`` before the response is sent; if the entry
cannot be written the request fails closed with ``Unavailable``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from audit.checkpoint import CheckpointSigner
from audit.sqlite_log import SQLiteAuditLog
from gateway.crypto.keyfiles import KeyMaterial
from gateway.errors import Unavailable
from gateway.settings import Settings
from gateway.witnessing.published import guard_log

log = logging.getLogger(__name__)

AUDIT_KEY_NAME = "gateway-audit"


class AuditSink(Protocol):
    def submit(self, entry: Mapping[str, Any]) -> concurrent.futures.Future[int]: ...


@dataclass
class RequestContext:
    request_id: str
    route: str
    tenant: str | None = None
    subject: str | None = None
    key_id: str | None = None
    role: str | None = None
    audit_index: int | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _clean(value: Any) -> Any:
    """Drop None values (entries stay small) and turn tuples into lists for canonical JSON."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


class Auditor:
    def __init__(self, sink: AuditSink, clock: Callable[[], str] = utc_now) -> None:
        self._sink = sink
        self._clock = clock

    def entry(self, event: str, ctx: RequestContext | None, decision: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        base: dict[str, Any] = {"v": 1, "time": self._clock(), "event": event, "decision": decision}
        if ctx is not None:
            base.update(
                request_id=ctx.request_id, route=ctx.route, tenant=ctx.tenant, subject=ctx.subject,
                key_id=ctx.key_id, role=ctx.role,
            )
        base.update(fields)
        cleaned: dict[str, Any] = _clean(base)
        return cleaned

    async def record(
        self, event: str, ctx: RequestContext | None, decision: str, **fields: Any
    ) -> int:
        entry = self.entry(event, ctx, decision, fields)
        try:
            index = await asyncio.wrap_future(self._sink.submit(entry))
        except Exception as exc:
            log.error("audit append failed for event %s: %s: %s", event, type(exc).__name__, exc)
            raise Unavailable("the audit log cannot be written; the request was not carried out") from exc
        if ctx is not None:
            ctx.audit_index = index
        return index

    def record_sync(self, event: str, decision: str, **fields: Any) -> int:
        """For the CLI and start/stop events, outside any request."""
        return self._sink.submit(self.entry(event, None, decision, fields)).result()


def open_audit_log(settings: Settings, keys: KeyMaterial) -> SQLiteAuditLog:
    """The embedded audit log; several processes (gateway, CLI) may append to it: the database serializes them."""
    signer = CheckpointSigner(keys.audit_private_key, AUDIT_KEY_NAME)
    log = SQLiteAuditLog(
        settings.audit_db_path, signer, settings.origin, checkpoint_interval_s=settings.checkpoint_interval_s
    )
    guard_log(log, settings.keys_dir, keys.audit_public_key)  # refuses a rewritten log; raises after closing it
    return log
