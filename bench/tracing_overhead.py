"""What OpenTelemetry tracing costs: off (the default) against on, in one run, through the in-process app.

The app runs with the fake model and detector (``tests/unit/http/conftest.py``), so what is measured is the
gateway's own per-request work, where tracing's cost would show, not the model's. Rounds alternate off and on
(exporting over OTLP/HTTP to a local receiver), and the per-call cost of a span when tracing is off is timed
against a bare ``nullcontext``, the floor any instrumentation hook has.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/tracing_overhead.py [--requests 400] [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from litestar.testing import TestClient  # noqa: E402

from gateway.http.app import create_app  # noqa: E402
from gateway.observability import tracing  # noqa: E402
from tests.otlpkit import Receiver  # noqa: E402
from tests.unit.http.conftest import App, fake_services  # noqa: E402

BODY = {"model": "all-MiniLM-L6-v2", "input": "The quarterly settlement report was filed on time."}


def _round(requests: int, endpoint: str | None) -> float:
    """Requests per second of ``requests`` sequential embeddings calls, tracing on when ``endpoint`` is given."""
    root = Path(tempfile.mkdtemp(prefix="bench-tracing-"))
    if endpoint:
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    else:
        os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    try:
        services = fake_services(root)
        with TestClient(create_app(services)) as client:
            app = App(client, services, root)
            headers = app.auth(app.key("acme", "bench", "writer"))
            for _ in range(20):  # warm-up
                client.post("/v1/embeddings", json=BODY, headers=headers)
            started = time.perf_counter()
            for _ in range(requests):
                assert client.post("/v1/embeddings", json=BODY, headers=headers).status_code == 200
            return requests / (time.perf_counter() - started)
    finally:
        tracing.shutdown()
        shutil.rmtree(root, ignore_errors=True)


def _per_call_ns(fn: object, calls: int = 200_000) -> float:
    started = time.perf_counter_ns()
    for _ in range(calls):
        with fn():  # type: ignore[operator]
            pass
    return (time.perf_counter_ns() - started) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    receiver = Receiver()
    off: list[float] = []
    on: list[float] = []
    try:
        for r in range(args.rounds):
            off.append(_round(args.requests, None))
            on.append(_round(args.requests, receiver.endpoint))
            print(f"round {r + 1}/{args.rounds}: off {off[-1]:.0f} req/s, on {on[-1]:.0f} req/s", flush=True)
    finally:
        receiver.close()
    null = contextlib.nullcontext()
    floor = _per_call_ns(lambda: null)
    span_off = _per_call_ns(lambda: tracing.span("detect"))
    best_off, best_on = max(off), max(on)
    print(f"# tracing_overhead.py  requests={args.requests} rounds={args.rounds}  cpus={os.cpu_count()}")
    print(f"requests/s, best of rounds: off {best_off:.0f}  on {best_on:.0f}  on/off {best_on / best_off:.3f}")
    print(f"span() when off: {span_off:.0f} ns per call  (bare nullcontext: {floor:.0f} ns); "
          f"spans exported: {len(receiver.spans)}")


if __name__ == "__main__":
    main()
