"""The real gateway (real model, real Presidio with tldextract, real SQLite/FAISS) runs with every outbound
connection forbidden, and nothing phones home; the PII recognizers answer regex bait in bounded time.

``egress_guard/sitecustomize.py`` is put on the subprocess's PYTHONPATH: any non-loopback connect or name lookup
raises and is written to a log the test reads, even where the gateway's code swallows the error.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.server import GatewayProcess

GUARD_DIR = Path(__file__).resolve().parent / "egress_guard"
MODEL = "all-MiniLM-L6-v2"
BAIT_BOUND_S = 20.0  # one request of ~30k characters through real Presidio on 2 busy cores

# Inputs shaped to make backtracking regexes explode (long runs that almost match, then fail at the end).
REGEX_BAIT = {
    "email": "a" * 5000 + "@" + "b." * 3000 + "!",
    "email dots": "x@" + "a-" * 6000 + ".",
    "url": "http://" + "a." * 6000 + "/" + "%" * 2000,
    "phone": "1-" * 5000 + "x",
    "credit card": "4111 " * 3000 + "x",
    "iban": "DE" + "89 3704 " * 1500 + "!",
    "ip": "1." * 6000 + "x",
    "zero width": "\u200b".join("123-45-6789") * 300,
    "mixed scripts": ("Алиса Bob 张伟 " * 2000),
}


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayProcess, Path, str]]:
    root = tmp_path_factory.mktemp("egress")
    log = root / "egress.log"
    gw = GatewayProcess(root, env={"PYTHONPATH": str(GUARD_DIR), "EGRESS_GUARD_LOG": str(log),
                                   "GATEWAY_MAX_TEXT_CHARS": "40000"})
    gw.prepare()
    key = gw.make_key("acme", "svc", "writer")
    gw.start()
    try:
        yield gw, log, key
    finally:
        gw.stop()


@pytest.mark.slow
def test_when_the_real_gateway_serves_with_egress_forbidden_then_nothing_phones_home(
    guarded: tuple[GatewayProcess, Path, str],
) -> None:
    gw, log, key = guarded
    auth = {"Authorization": f"Bearer {key}"}
    assert Path(str(log) + ".armed").exists(), "the egress guard was not loaded into the gateway"
    with httpx.Client(base_url=gw.url, headers=auth, timeout=120) as client:
        texts = ["Write to jane.doe@example.co.uk or visit https://example.org",
                 "Call Alice Smith on (555) 010-2000", "plain text about cats"]
        r = client.post("/v1/embeddings", json={"model": MODEL, "input": texts})
        assert r.status_code == 200, r.text
        assert "EMAIL_ADDRESS" in r.headers["x-gateway-pii"]
        assert client.post("/v1/collections", json={"name": "c"}).status_code == 201
        docs = [{"id": f"d{i}", "text": t} for i, t in enumerate(texts)]
        assert client.post("/v1/collections/c/documents", json={"documents": docs}).status_code == 200
        assert client.post("/v1/collections/c/search", json={"query": "cats"}).status_code == 200
    violations = log.read_text() if log.exists() else ""
    assert not violations, f"outbound connections attempted:\n{violations}"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(REGEX_BAIT))
def test_when_regex_bait_is_sent_to_the_real_recognizers_then_the_answer_comes_in_bounded_time(
    guarded: tuple[GatewayProcess, Path, str], name: str
) -> None:
    gw, _, key = guarded
    started = time.monotonic()
    r = httpx.post(gw.url + "/v1/pii/analyze", json={"text": REGEX_BAIT[name]},
                   headers={"Authorization": f"Bearer {key}"}, timeout=120)
    elapsed = time.monotonic() - started
    assert r.status_code in (200, 413, 422), r.text[:300]
    assert elapsed < BAIT_BOUND_S, f"{name}: {elapsed:.1f} s"


def test_when_a_process_runs_under_the_guard_then_outbound_connects_fail_and_are_logged(tmp_path: Path) -> None:
    """The control: the guard really blocks (a test that cannot fail proves nothing)."""
    import os
    import subprocess
    import sys

    log = tmp_path / "egress.log"
    probe = ("import socket\ntry:\n    socket.create_connection(('203.0.113.7', 443), timeout=1)\n"
             "except OSError as e:\n    print('refused', e)\n")
    env = {**os.environ, "PYTHONPATH": str(GUARD_DIR), "EGRESS_GUARD_LOG": str(log)}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60,
                         check=True)
    assert "egress forbidden" in out.stdout
    assert "203.0.113.7" in log.read_text()
