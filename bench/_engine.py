"""The governed gateway in front of a remote engine against the same engine called directly (``throughput.py
--engine URL``).

Same texts, same concurrency, same request shape (one text per request, OpenAI's ``/embeddings``), in one run:
engine direct, gateway in front, engine direct again (the two direct runs bracket the gateway's, so a machine that
slows mid-run shows as two different baselines instead of a wrong ratio). The gateway declares the engine as a
remote model in its ``models.yaml`` and runs everything it runs for a local model: Presidio, the policy, the engine
call (coalesced into batches of at most ``max_batch``), keyed noise, the privacy ledger and a durable audit entry.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml

from bench._load import LoadResult, drive
from tests.integration.server import GatewayProcess

REMOTE = "engine-bench"  # the gateway's name for the engine's model


def _engine_model(url: str, name: str) -> tuple[str, int]:
    """The engine's model name (its first served model unless given) and the model's dimension, asked of it."""
    if not name:
        name = str(httpx.get(f"{url.rstrip('/')}/models", timeout=30).json()["data"][0]["id"])
    answer = httpx.post(f"{url.rstrip('/')}/embeddings", timeout=60,
                        json={"model": name, "input": ["dimension probe"], "encoding_format": "float"})
    answer.raise_for_status()
    return name, len(answer.json()["data"][0]["embedding"])


def _declare(policy_dir: Path, url: str, model: str, dimension: int, max_batch: int) -> None:
    entry = {"name": REMOTE, "version": "1.0.0", "dimension": dimension,
             "engine": {"kind": "openai", "base_url": url, "model": model, "timeout_s": 60, "max_batch": max_batch}}
    (policy_dir / "models.yaml").write_text(yaml.safe_dump({"models": [entry]}, sort_keys=False), "utf-8")


def run(args: argparse.Namespace, texts: list[str], say: Callable[[str], None], machine: str) -> None:
    url = args.engine.rstrip("/")
    model, dimension = _engine_model(url, args.engine_model)
    clients = args.clients or 64
    total = max(len(texts), clients * 6)
    engine_path = urlsplit(url).path.rstrip("/") + "/embeddings"
    say(f"engine {url}: model {model!r}, dimension {dimension}; {clients} clients, {total} requests a phase")

    def direct(label: str) -> LoadResult:
        body: Callable[[int], dict[str, Any]] = lambda n: {  # noqa: E731
            "model": model, "input": texts[n % len(texts)], "encoding_format": "float"}
        drive(url, engine_path, "unused", body, clients=8, total=32)  # warm-up
        return _phase(label, say, lambda: drive(url, engine_path, "unused", body, clients=clients, total=total))

    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        gw = GatewayProcess(Path(tmp))
        gw.env = {"GATEWAY_MAX_CONCURRENT_PER_KEY": "0", "GATEWAY_DEVICE": "cpu"}
        gw.prepare()
        _declare(gw.policy_dir, url, model, dimension, args.engine_max_batch)
        key = gw.make_key("bench", "bench", "writer")
        before = direct("engine direct (before)")
        say("gateway: starting ...")
        gw.start()
        try:
            body: Callable[[int], dict[str, Any]] = lambda n: {"model": REMOTE, "input": texts[n % len(texts)]}  # noqa: E731
            drive(gw.url, "/v1/embeddings", key, body, clients=8, total=32)  # warm-up
            governed = _phase("gateway in front", say,
                              lambda: drive(gw.url, "/v1/embeddings", key, body, clients=clients, total=total))
        finally:
            gw.stop()
        after = direct("engine direct (after)")
    report(args, machine, model, before, governed, after)


def _phase(label: str, say: Callable[[str], None], go: Callable[[], LoadResult]) -> LoadResult:
    r = go()
    say(f"{label}: {r.items_per_s():.1f} texts/s, p50 {r.percentile(50) * 1e3:.0f} ms, "
        f"p99 {r.percentile(99) * 1e3:.0f} ms, statuses {r.statuses()}")
    return r


def report(args: argparse.Namespace, machine: str, model: str, before: LoadResult, governed: LoadResult,
           after: LoadResult) -> None:
    baseline = (before.items_per_s() + after.items_per_s()) / 2
    print(f"\n# throughput.py --engine {args.engine}  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  "
          f"cpus={os.cpu_count()}  {machine}")
    print(f"engine model {model!r}; 1 text/request, {governed.clients} clients, "
          f"{len(governed.samples)} requests a phase")
    for label, r in (("engine direct (before)", before), ("gateway in front", governed),
                     ("engine direct (after)", after)):
        print(f"{label:<23}: {r.items_per_s():7.1f} texts/s  p50 {r.percentile(50) * 1e3:6.0f} ms"
              f"  p99 {r.percentile(99) * 1e3:6.0f} ms  statuses {r.statuses()}")
    print(f"ratio gateway / engine direct (mean of before and after): {governed.items_per_s() / baseline:.2f}")
