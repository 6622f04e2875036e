"""One service, one API key, N concurrent one-text callers, the gateway as shipped (``throughput.py --one-key``).

Issue 25's done-means: with the shipped defaults, 32 concurrent closed-loop clients, each sending one text per
request on ONE key, get no 429, and the gateway serves 0.8 or more of the raw model's best batch throughput on the
same texts. Unlike the other phases of ``throughput.py`` nothing is lifted here: no setting is overridden but the
device, and the policy is the shipped one (the test harness's shorter checkpoint interval is removed too).

The raw model is timed before and after the gateway phase (the gateway stopped meanwhile) and the baseline is the
mean of the two bests, so a shared machine that slows or speeds up mid-run shows as two baselines instead of a wrong
ratio. Two gateway rounds are driven back to back after a warm-up; each is reported, and the ratio uses both
together.

``runtimes`` (``--runtime``): the gateway as shipped (``default``), or with ``model_runtime`` set, several in one
run (``both``: torch, onnx, onnx, torch, so that a machine drifting over the run favours neither), the raw model
timed before and after all of them. The ONNX gateways share one export cache (``onnx_cache_dir``), so only the
first exports. Each gateway's CPU is read from ``/proc`` (user + system, all threads) for the gateway process and,
apart, for its descendants (the PII worker processes): CPU per text survives a shared machine's load better than
texts/s does.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import _profiled_gateway
from bench._load import LoadResult, batch_totals, cpu_by_part, drive, mean_batches, rss_bytes
from bench._stage import time_raw
from gateway.observability.threads import cpu_seconds
from tests.integration.server import GatewayProcess

MODEL = "all-MiniLM-L6-v2"
# --runtime: what each choice runs, in order (None: the shipped default, no setting)
RUNTIMES: dict[str, tuple[str | None, ...]] = {"default": (None,), "torch": ("torch",), "onnx": ("onnx",),
                                               "both": ("torch", "onnx", "onnx", "torch")}


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads (native ones too), from /proc (Linux); an ended
    process raises ``ProcessLookupError``."""
    seconds = cpu_seconds(Path(f"/proc/{pid}/stat"))
    if seconds is None:
        raise ProcessLookupError(pid)
    return seconds


def descendants(pid: int) -> list[int]:
    """The live processes below ``pid`` (its PII workers, and whatever started them), from /proc's parent ids."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):  # a process that ended while read
            continue
    found, frontier = [], [pid]
    while frontier:
        kids = [child for child, parent in parents.items() if parent in frontier]
        found.extend(kids)
        frontier = kids
    return found


def tree_cpu_s(pid: int, children: list[int]) -> tuple[float, float]:
    """CPU seconds of the gateway process and, summed, of ``children`` (those still alive)."""
    total = 0.0
    for child in children:
        try:
            total += process_cpu_s(child)
        except OSError:
            continue
    return process_cpu_s(pid), total


@dataclass
class GatewayRun:
    runtime: str
    rounds: list[LoadResult]
    cpu_ms: float  # the gateway process, per text
    children_cpu_ms: float  # its descendants (the PII workers), per text
    load: str  # the 1-minute load average before and after its rounds
    rss_mb: float  # the gateway process's resident memory after its rounds (its PII workers not counted)
    parts: dict[str, float]  # CPU ms per text by part of the gateway (``gateway_cpu_seconds_total``)

    def texts(self) -> int:
        return sum(len(r.samples) for r in self.rounds)


def run(model: Any, raw_before: dict[str, Any], texts: list[str], sizes: list[int], device: str, clients: int,
        port: int, say: Callable[[str], None], machine: str, profile: bool = False, tries: int = 2,
        runtimes: str = "default") -> None:
    runs: list[GatewayRun] = []
    profiled = ""
    with tempfile.TemporaryDirectory(prefix="bench-onekey-") as tmp:
        for i, runtime in enumerate(RUNTIMES[runtimes]):
            gateway, profiled = one_gateway(Path(tmp) / f"gw-{i}", Path(tmp) / "onnx-cache", runtime, texts, device,
                                            clients, port, say, profile)
            runs.append(gateway)
    say("raw model again (after the gateway) ...")
    raw_after = time_raw(model, texts, sizes, 20, say, tries)
    raw_cpu_ms = raw_cpu_per_text(model, texts, raw_after["best_size"])
    report(raw_before, raw_after, runs, device, clients, machine, raw_cpu_ms)
    if profiled:
        print(profiled)


def one_gateway(root: Path, onnx_cache: Path, runtime: str | None, texts: list[str], device: str, clients: int,
                port: int, say: Callable[[str], None], profile: bool) -> tuple[GatewayRun, str]:
    label = runtime or "default"
    env = {"GATEWAY_DEVICE": device} if device != "cpu" else {}
    if runtime is not None:
        env |= {"GATEWAY_MODEL_RUNTIME": runtime, "GATEWAY_ONNX_CACHE_DIR": str(onnx_cache)}
    gw = GatewayProcess(root, port=port, env=env)
    if profile:
        gw.launcher = [sys.executable, str(Path(_profiled_gateway.__file__))]
        gw.env["GATEWAY_BENCH_PROFILE_DIR"] = str(root / "profile")
    gw.prepare()
    gw.env.pop("GATEWAY_CHECKPOINT_INTERVAL_S", None)  # the harness's test value, not a shipped default
    key = gw.make_key("bench", "bench", "writer")
    say(f"gateway ({label}): starting ...")
    gw.start()
    try:
        body = lambda n: {"model": MODEL, "input": texts[n % len(texts)]}  # noqa: E731
        drive(gw.url, "/v1/embeddings", key, body, clients=8, total=64)  # warm-up
        assert gw.proc is not None
        pid = gw.proc.pid
        if profile:
            os.kill(pid, signal.SIGUSR1)  # the profiler's baseline: loading and warm-up left out
        children = descendants(pid)
        load0 = os.getloadavg()[0]
        cpu0, kids0 = tree_cpu_s(pid, children)
        parts0, batches0 = cpu_by_part(gw.url), batch_totals(gw.url)
        rounds = []
        for i in range(2):
            say(f"gateway ({label}) round {i + 1}: {clients} clients on one key, {len(texts)} one-text requests ...")
            r = drive(gw.url, "/v1/embeddings", key, body, clients=clients, total=len(texts))
            say(f"round {i + 1}: {r.items_per_s():.1f} texts/s, statuses {r.statuses()}")
            rounds.append(r)
        cpu1, kids1 = tree_cpu_s(pid, children)
        say(f"mean texts per batch: {mean_batches(batches0, batch_totals(gw.url))}")
        n = sum(len(r.samples) for r in rounds)
        parts = {part: (s - parts0.get(part, 0.0)) * 1e3 / n for part, s in cpu_by_part(gw.url).items()}
        run = GatewayRun(label, rounds, (cpu1 - cpu0) * 1e3 / n, (kids1 - kids0) * 1e3 / n,
                         f"{load0:.1f}-{os.getloadavg()[0]:.1f}", rss_bytes(pid) / 2**20, parts)
        if profile:  # a profiled gateway shuts down slowly and then writes its profile: give it time
            gw.proc.send_signal(signal.SIGTERM)
            gw.proc.wait(300)
    finally:
        gw.stop()
    profiled = _profiled_gateway.summarize(root / "profile", run.texts()) if profile else ""
    if profile and "not written" in profiled:
        profiled += "\n" + gw.log_path.read_text(errors="replace")[-1500:]
    return run, profiled


def raw_cpu_per_text(model: Any, texts: list[str], batch: int) -> float:
    """The raw model's CPU ms per text on one thread at ``batch``: what a text costs it, whatever the machine's load
    does to its wall time (two threads on a busy shared machine wait for each other at every parallel region)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        started = time.process_time()
        model.encode(texts, batch_size=batch, normalize_embeddings=True, show_progress_bar=False)
        return (time.process_time() - started) * 1e3 / len(texts)
    finally:
        torch.set_num_threads(threads)


def combined(rounds: list[LoadResult]) -> tuple[float, dict[int, int]]:
    """Texts/s over all rounds (answered texts over the rounds' summed wall time) and their statuses together."""
    ok = sum(len(r.ok()) * r.items_per_request for r in rounds)
    statuses: dict[int, int] = {}
    for r in rounds:
        for status, n in r.statuses().items():
            statuses[status] = statuses.get(status, 0) + n
    return ok / sum(r.wall_s for r in rounds), dict(sorted(statuses.items()))


def report(raw_before: dict[str, Any], raw_after: dict[str, Any], runs: list[GatewayRun], device: str,
           clients: int, machine: str, raw_cpu_ms: float) -> None:
    baseline = (raw_before["best_tps"] + raw_after["best_tps"]) / 2
    print(f"\n# throughput.py --one-key  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  device={device}  "
          f"cpus={os.cpu_count()}  {machine}")
    for label, raw in (("before", raw_before), ("after ", raw_after)):
        sizes = "  ".join(f"b{k}={v:.1f}" for k, v in raw["by_size"].items())
        print(f"raw sentence-transformers {label} (one encode call over all texts): {sizes}  best=b{raw['best_size']}")
    for run in runs:
        for i, r in enumerate(run.rounds, 1):
            print(f"gateway ({run.runtime}) round {i}: {clients} clients, one key, 1 text/request: "
                  f"{r.items_per_s():7.1f} texts/s  p50 {r.percentile(50) * 1e3:.0f} ms  "
                  f"p99 {r.percentile(99) * 1e3:.0f} ms  statuses {r.statuses()}")
    for run in runs:
        tps, statuses = combined(run.rounds)
        print(f"one key ({run.runtime}), {clients} clients x 1 text: {tps:.1f} texts/s  raw best (mean of before "
              f"and after) {baseline:.1f}  ratio {tps / baseline:.2f}  429s {statuses.get(429, 0)}  "
              f"requests {sum(statuses.values())}  statuses {statuses}")
    for run in runs:
        total = run.cpu_ms + run.children_cpu_ms
        print(f"CPU per text ({run.runtime}): gateway process {run.cpu_ms:.2f} ms + PII workers "
              f"{run.children_cpu_ms:.2f} ms = {total:.2f} ms (from /proc; load average {run.load}; gateway RSS "
              f"{run.rss_mb:.0f} MB); raw model "
              f"{raw_cpu_ms:.2f} ms (one thread, batch {raw_after['best_size']}); raw / gateway "
              f"{raw_cpu_ms / total:.2f}")
        shown = sorted(((ms, part) for part, ms in run.parts.items() if ms >= 0.005), reverse=True)
        print(f"CPU per text by part ({run.runtime}, gateway_cpu_seconds_total): "
              + (", ".join(f"{part} {ms:.2f} ms" for ms, part in shown) or "not reported by this gateway"))
