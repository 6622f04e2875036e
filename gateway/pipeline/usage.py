"""The usage use case (``GET /v1/usage``, and ``gateway usage``): the caller's tenant's tokens and requests per
key, model and day, in the shape of OpenAI's usage API (a page of daily buckets, each with its results).

Only the caller's own tenant is read: the tenant comes from the principal, never from the request.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from gateway.auth.apikeys import Principal
from gateway.limits.usage import Usage, UsageRepository, day_range
from gateway.pipeline.offload import off_loop
from gateway.pipeline.outcome import Outcome


def _epoch(day: str) -> int:
    return int(datetime.combine(date.fromisoformat(day), time(), tzinfo=UTC).timestamp())


def usage_page(rows: list[Usage], since: str, until: str) -> dict[str, Any]:
    """OpenAI-like: ``{"object": "page", "data": [{"object": "bucket", "start_time", "end_time", "results"}]}``,
    one bucket per day that has usage, each result one (key, model) of that day."""
    buckets: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        buckets.setdefault(row.day, []).append({
            "object": "organization.usage.embeddings.result", "api_key_id": row.key_id, "model": row.model,
            "input_tokens": row.tokens, "num_model_requests": row.requests,
        })
    data = [{"object": "bucket", "start_time": _epoch(day), "end_time": _epoch(day) + 86_400, "day": day,
             "results": results} for day, results in sorted(buckets.items())]
    return {"object": "page", "since": since, "until": until, "data": data, "has_more": False, "next_page": None}


async def read_usage(principal: Principal, since: str | None, until: str | None, *, usage: UsageRepository,
                     remote: bool) -> Outcome:
    """The caller's tenant's usage of the days ``since`` to ``until`` (both included, UTC); ``remote``: the
    repository is across the network (PostgreSQL), so it is read on a worker thread."""
    first, last = day_range(since, until)
    rows = await off_loop(remote, usage.read, principal.tenant, first, last)
    audit = {"count": len(rows)}  # rows read: (day, key, model) triples
    return Outcome(usage_page(rows, first, last), audit)
