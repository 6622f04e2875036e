"""How long sealing an uploaded file holds the interpreter: one piece (format 1) against 1 MiB chunks (format 2).

A ticker thread sleeps 1 ms in a loop and records each wake-up's lateness while another thread seals (and then
opens) a file of ``--mb`` MB under a real envelope (file-less keyring, in-memory data keys), as ``FileVault`` does
off the event loop; the event loop's thread is stalled the same way. Prints each way's time and the ticker's p99 and
worst lateness, and the worst of one piece against the worst of chunks, in one run.

    .venv/bin/python bench/seal_stall.py [--mb 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._load import percentile  # noqa: E402
from bench.throughput import cpu_model  # noqa: E402
from gateway.crypto import Envelope, InMemoryDataKeyRepository, Keyring, RecordContext  # noqa: E402

CTX = RecordContext("acme", "_files", "file-bench", "1")


def lateness_during(work: Callable[[], object]) -> tuple[float, list[float]]:
    """(seconds the work took, sorted lateness of a 1 ms ticker while it ran)."""
    late: list[float] = []
    done = threading.Event()

    def tick() -> None:
        while not done.is_set():
            t0 = time.perf_counter()
            time.sleep(0.001)
            late.append(time.perf_counter() - t0 - 0.001)

    ticker = threading.Thread(target=tick)
    ticker.start()
    time.sleep(0.05)
    t0 = time.perf_counter()
    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    spent = time.perf_counter() - t0
    done.set()
    ticker.join()
    return spent, sorted(late)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    data = os.urandom(args.mb * 1_000_000)
    envelope = Envelope(Keyring.generate(), InMemoryDataKeyRepository())
    one, chunks = envelope.encrypt(CTX, data), envelope.encrypt_chunked(CTX, data)  # warm the key cache
    ways: dict[str, Callable[[], object]] = {
        "seal, one piece": lambda: envelope.encrypt(CTX, data),
        "seal, 1 MiB chunks": lambda: envelope.encrypt_chunked(CTX, data),
        "open, one piece": lambda: envelope.decrypt(CTX, one),
        "open, 1 MiB chunks": lambda: b"".join(envelope.decrypt_chunks(CTX, chunks)),
    }
    print(f"# seal_stall.py  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  cpus={os.cpu_count()}  {cpu_model()}  "
          f"file {args.mb} MB, {args.rounds} rounds")
    worst: dict[str, float] = {}
    for name, work in ways.items():
        runs = [lateness_during(work) for _ in range(args.rounds)]
        late = sorted(x for _, lates in runs for x in lates)
        worst[name] = late[-1] if late else 0.0
        print(f"{name:20s} {min(s for s, _ in runs) * 1e3:6.0f} ms (best)  ticker late p99 "
              f"{percentile(late, 99) * 1e3:5.1f} ms, worst {worst[name] * 1e3:5.1f} ms")
    for op in ("seal", "open"):
        print(f"{op}: worst lateness, one piece / chunks: "
              f"{worst[f'{op}, one piece'] / max(worst[f'{op}, 1 MiB chunks'], 1e-6):.1f}")


if __name__ == "__main__":
    main()
