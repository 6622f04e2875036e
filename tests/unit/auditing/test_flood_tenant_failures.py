"""A flood of garbage keys must not hide a tenant's refused keys from its auditors (attack16, F1).

Before: after 20 failures with ``Bearer garbage``, three wrong secrets for acme's real key id were counted in the
window's aggregate entry, which has no tenant, no key id and no reason: acme's auditors saw nothing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Mapping
from typing import Any

from gateway.auditing.auditor import AGGREGATE_EVENT, Auditor, RequestContext, UnauthenticatedFlood


class _Sink:
    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def submit(self, entry: Mapping[str, Any]) -> concurrent.futures.Future[int]:
        self.entries.append(dict(entry))
        done: concurrent.futures.Future[int] = concurrent.futures.Future()
        done.set_result(len(self.entries) - 1)
        return done


def _failure(key_id: str | None) -> RequestContext:
    ctx = RequestContext(request_id="r", route="GET /v1/collections")
    ctx.key_id = key_id
    return ctx


async def _flood_then_guess(auditor: Auditor) -> list[int | None]:
    for _ in range(3):  # the burst, spent on garbage
        await auditor.record("auth.failure", _failure(None), "deny", status=401, code="invalid_api_key",
                             reason="malformed key")
    return [await auditor.record("auth.failure", _failure("c03103a985d18fdc"), "deny", status=401,
                                 code="invalid_api_key", reason=reason, tenant="acme")
            for reason in ("wrong secret", "wrong secret", "revoked")]


def test_when_a_known_key_fails_past_the_burst_then_its_tenant_gets_an_aggregate_entry() -> None:
    sink = _Sink()
    auditor = Auditor(sink, lambda tenant, purpose: b"k" * 32, flood=UnauthenticatedFlood(2, 60.0))
    indexes = asyncio.run(_flood_then_guess(auditor))
    assert indexes == [None, None, None]  # counted, not entries of their own (the flood stays bounded)
    auditor.flush()
    aggregates = [e for e in sink.entries if e["event"] == AGGREGATE_EVENT]
    assert [a.get("tenant") for a in aggregates] == [None, "acme"]
    anonymous, acme = aggregates
    assert anonymous["count"] == 1 and "key_id" not in anonymous["counts"][0]
    assert acme["count"] == 3
    assert {(r["key_id"], r["reason"], r["count"]) for r in acme["counts"]} == {
        ("c03103a985d18fdc", "wrong secret", 2), ("c03103a985d18fdc", "revoked", 1)}


def test_when_only_garbage_floods_then_there_is_one_aggregate_without_a_tenant() -> None:
    flood = UnauthenticatedFlood(0, 60.0)
    flood.admit("t0")
    flood.count("auth.failure", "GET /v1/collections", "invalid_api_key")
    flood.count("auth.failure", "GET /v1/collections", "invalid_api_key")
    [only] = flood.drain("t1", force=True)
    assert only["count"] == 2 and "tenant" not in only
    assert flood.drain("t2", force=True) == []
