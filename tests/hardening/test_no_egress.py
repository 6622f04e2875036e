"""The real gateway (real model, real Presidio with tldextract, real SQLite/FAISS) runs with every outbound
connection forbidden but to the engine its model registry configures, and connects to nothing else; the PII
recognizers answer regex bait in bounded time.

``egress_guard/sitecustomize.py`` is put on the subprocess's PYTHONPATH with ``EGRESS_ALLOW`` set to the configured
engine's address: any other connect (loopback included) or name lookup raises and is written to a log the test
reads, even where the gateway's code swallows the error.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.enginekit import RecordingEngine, models_yaml
from tests.integration.server import GatewayProcess

GUARD_DIR = Path(__file__).resolve().parent / "egress_guard"
MODEL = "all-MiniLM-L6-v2"
REMOTE = "minilm-remote"
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
def engine(engine_model: Any) -> Iterator[RecordingEngine]:
    """The one engine the gateway's registry configures: a real OpenAI-compatible server on loopback, this
    module's own, on the session's model (``tests/conftest.py``)."""
    served = RecordingEngine(engine_model)
    yield served
    served.close()


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory,
            engine: RecordingEngine) -> Iterator[tuple[GatewayProcess, Path, str]]:
    root = tmp_path_factory.mktemp("egress")
    log = root / "egress.log"
    gw = GatewayProcess(root, env={"PYTHONPATH": str(GUARD_DIR), "EGRESS_GUARD_LOG": str(log),
                                   "EGRESS_ALLOW": f"127.0.0.1:{engine.port}", "GATEWAY_MAX_TEXT_CHARS": "40000"})
    gw.prepare()
    (gw.policy_dir / "models.yaml").write_text(models_yaml({REMOTE: engine.base_url}))
    key = gw.make_key("acme", "svc", "writer")
    gw.start()
    try:
        yield gw, log, key
    finally:
        gw.stop()


@pytest.mark.slow
def test_when_the_real_gateway_serves_with_egress_forbidden_then_it_connects_to_its_configured_engine_only(
    guarded: tuple[GatewayProcess, Path, str], engine: RecordingEngine,
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
        remote = client.post("/v1/embeddings", json={"model": REMOTE, "input": texts})
        assert remote.status_code == 200, remote.text
        assert client.post("/v1/collections", json={"name": "r", "model": REMOTE}).status_code == 201
        assert client.post("/v1/collections/r/documents", json={"documents": docs}).status_code == 200
    assert "plain text about cats" in engine.texts()  # the allowed engine was used: the guard let it through
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


def test_when_engines_are_allowed_then_a_loopback_port_that_is_not_one_of_them_is_refused(tmp_path: Path) -> None:
    """The control of the allow-list: only the configured engine's address, not loopback at large."""
    import os
    import subprocess
    import sys

    from tests.enginekit import port_in_range

    log = tmp_path / "egress.log"
    allowed = port_in_range()
    other = port_in_range(avoid=[allowed])
    probe = (f"import socket\nfor port in ({allowed}, {other}):\n    try:\n"
             "        socket.create_connection(('127.0.0.1', port), timeout=1)\n"
             "    except OSError as e:\n        print(port, e)\n")
    env = {**os.environ, "PYTHONPATH": str(GUARD_DIR), "EGRESS_GUARD_LOG": str(log),
           "EGRESS_ALLOW": f"127.0.0.1:{allowed}"}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60,
                         check=True)
    assert f"{other} egress forbidden" in out.stdout
    assert f"{allowed} egress forbidden" not in out.stdout  # refused by nobody listening, not by the guard
    assert str(other) in log.read_text() and str(allowed) not in log.read_text()
