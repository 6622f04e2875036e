"""Load-generation helpers shared by the throughput benchmark and the back-pressure test.

``drive`` runs ``clients`` concurrent HTTP/1.1 clients over loopback, each sending requests back to back until
``total`` requests have been sent (closed loop: a client sends its next request when its last one is answered),
and records every request's status, latency and headers we care about.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import statistics
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

Body = Callable[[int], dict[str, Any]]  # request number -> JSON body


@dataclass(frozen=True)
class Sample:
    status: int
    latency_s: float
    request_id: str | None
    audit_index: str | None
    retry_after: str | None


@dataclass
class LoadResult:
    samples: list[Sample] = field(default_factory=list)
    wall_s: float = 0.0
    items_per_request: int = 1
    clients: int = 1
    cpu_ms_by_part: dict[str, float] = field(default_factory=dict)  # per request, from the gateway's /metrics

    def ok(self) -> list[Sample]:
        return [s for s in self.samples if s.status == 200]

    def statuses(self) -> dict[int, int]:
        out: dict[int, int] = {}
        for s in self.samples:
            out[s.status] = out.get(s.status, 0) + 1
        return dict(sorted(out.items()))

    def items_per_s(self) -> float:
        return len(self.ok()) * self.items_per_request / self.wall_s if self.wall_s else 0.0

    def percentile(self, q: float, status: int | None = 200) -> float:
        values = sorted(s.latency_s for s in self.samples if status is None or s.status == status)
        return percentile(values, q)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of already sorted values; NaN for none."""
    if not values:
        return float("nan")
    rank = max(0, min(len(values) - 1, round(q / 100 * len(values) + 0.5) - 1))
    return values[rank]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


class _Connection:
    """A minimal keep-alive HTTP/1.1 client over one socket: the load generator must cost the 2-core machine
    as little CPU as possible, and httpx spends several times more per request than this."""

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if self._writer is None or self._reader is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        head = [f"POST {path} HTTP/1.1", f"Host: {self._host}:{self._port}", "Content-Type: application/json",
                f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers.items())]
        self._writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        raw = await self._reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        got = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
        payload = await self._reader.readexactly(int(got.get("content-length", "0")))
        if got.get("connection", "").lower() == "close":
            await self.close()
        return status, got, payload

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None


async def _client(
    conn: _Connection, path: str, key: str, body: Body, counter: itertools.count[int], total: int,
    out: list[Sample], timeout: float,
) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    while (n := next(counter)) < total:
        payload = json.dumps(body(n)).encode("utf-8")
        started = time.perf_counter()
        try:
            status, h, _ = await asyncio.wait_for(conn.post(path, payload, headers), timeout)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            await conn.close()
            status, h = 0, {}
        out.append(Sample(status, time.perf_counter() - started, h.get("x-request-id"),
                          h.get("x-gateway-audit-index"), h.get("retry-after")))
    await conn.close()


async def drive_async(base_url: str, path: str, key: str | Sequence[str], body: Body, *, clients: int, total: int,
                      items_per_request: int = 1, timeout: float = 120.0) -> LoadResult:
    keys = [key] if isinstance(key, str) else list(key)
    url = urlsplit(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    result = LoadResult(items_per_request=items_per_request, clients=clients)
    counter = itertools.count()
    started = time.perf_counter()
    await asyncio.gather(*(
        _client(_Connection(host, port), path, keys[i % len(keys)], body, counter, total, result.samples, timeout)
        for i in range(clients)
    ))
    result.wall_s = time.perf_counter() - started
    return result


def drive(base_url: str, path: str, key: str | Sequence[str], body: Body, *, clients: int, total: int,
          items_per_request: int = 1, timeout: float = 120.0) -> LoadResult:
    """Synchronous entry point: one event loop per call."""
    return asyncio.run(drive_async(base_url, path, key, body, clients=clients, total=total,
                                   items_per_request=items_per_request, timeout=timeout))


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc (Linux)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def cpu_by_part(url: str) -> dict[str, float]:
    """The gateway's own ``gateway_cpu_seconds_total`` by part, from its ``/metrics``."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"{url}/metrics", timeout=30) as response:
        text = response.read().decode()
    return {sample.labels["part"]: sample.value for family in text_string_to_metric_families(text)
            if family.name == "gateway_cpu_seconds" for sample in family.samples
            if sample.name == "gateway_cpu_seconds_total"}


def batch_totals(url: str) -> dict[str, tuple[float, float]]:
    """Items and batches so far per batcher (``gateway_batch_size``'s sum and count), from the gateway's
    ``/metrics``: two readings give the mean batch size between them."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"{url}/metrics", timeout=30) as response:
        text = response.read().decode()
    totals: dict[str, list[float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "gateway_batch_size":
            continue
        for sample in family.samples:
            if sample.name in ("gateway_batch_size_sum", "gateway_batch_size_count"):
                totals.setdefault(sample.labels["batcher"], [0.0, 0.0])[sample.name.endswith("_count")] = sample.value
    return {name: (items, batches) for name, (items, batches) in totals.items()}


def mean_batches(before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]]) -> str:
    """``name mean`` per batcher that ran batches between two ``batch_totals`` readings."""
    means = []
    for name, (items, batches) in sorted(after.items()):
        done = batches - before.get(name, (0.0, 0.0))[1]
        if done:
            means.append(f"{name} {(items - before.get(name, (0.0, 0.0))[0]) / done:.1f}")
    return ", ".join(means)
