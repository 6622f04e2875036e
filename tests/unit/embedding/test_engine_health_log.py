"""What the operator's log says when a remote engine fails: why (refused, TLS, timeout, the engine's status, with a
hint for a wrong URL path), once per change rather than once per request, and when the engine answers again.

Before, an engine that went down under load wrote no line at all (only probes logged, every 300 s by default, as
``got no answer (ModelUnavailable)``), and a TLS failure, a refused port and a timeout all read the same.
"""

from __future__ import annotations

import http.server
import logging
import socket
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

from gateway.embedding.engines import REFUSAL_LOG_S, EngineClient, EngineSpec
from gateway.errors import ModelUnavailable, UpstreamError
from gateway.settings import Secret
from tests.unit.embedding.test_engines import Clock

DIM = 4
LOGGER = "gateway.embedding.engines"


def _ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"data": [{"index": 0, "embedding": [1.0, 0.0, 0.0, 0.0]}]})


def _client(url: str, handler: Callable[[httpx.Request], httpx.Response] | None = None,
            clock: Clock | None = None, timeout_s: float = 30.0) -> EngineClient:
    clock = clock or Clock()
    spec = EngineSpec(kind="openai", urls=(url,), model="bge-small", timeout_s=timeout_s)
    transport = httpx.MockTransport(handler) if handler is not None else None
    return EngineClient(spec, DIM, transport, clock, clock.sleep, name="minilm-remote")


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def plain_http_port() -> Iterator[int]:
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_when_the_engine_refuses_connections_then_the_log_says_so_once_for_many_requests(
    caplog: pytest.LogCaptureFixture, closed_port: int
) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    client = _client(f"http://127.0.0.1:{closed_port}/v1")
    for _ in range(4):
        with pytest.raises(ModelUnavailable):
            client.embed(["a"])
    assert _lines(caplog) == [f"engine 127.0.0.1:{closed_port} (model minilm-remote): connection refused "
                              "(nothing listens at this host and port)"]


def test_when_an_https_url_points_at_a_plain_http_port_then_the_log_names_the_tls_failure(
    caplog: pytest.LogCaptureFixture, plain_http_port: int
) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    with pytest.raises(ModelUnavailable):
        _client(f"https://127.0.0.1:{plain_http_port}/v1").embed(["a"])
    (line,) = _lines(caplog)
    assert "TLS handshake failed" in line and "plain http port" in line


def test_when_the_engine_does_not_answer_in_time_then_the_log_names_the_timeout(
    caplog: pytest.LogCaptureFixture
) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    caplog.set_level(logging.WARNING, LOGGER)
    with pytest.raises(ModelUnavailable):
        _client("http://engine-a:8080/v1", slow, timeout_s=5).embed(["a"])
    assert _lines(caplog) == ["engine engine-a:8080 (model minilm-remote): no answer within 5 s (timeout_s)"]


def test_when_the_engine_answers_again_then_the_log_says_so_once(caplog: pytest.LogCaptureFixture) -> None:
    up = {"now": False}

    def flapping(request: httpx.Request) -> httpx.Response:
        if not up["now"]:
            try:
                raise ConnectionRefusedError(111, "refused")
            except ConnectionRefusedError as exc:
                raise httpx.ConnectError("refused", request=request) from exc
        return _ok(request)

    caplog.set_level(logging.WARNING, LOGGER)
    clock = Clock()
    client = _client("http://engine-a:8080/v1", flapping, clock)
    with pytest.raises(ModelUnavailable):
        client.embed(["a"])
    up["now"] = True
    clock.now += 60  # past the circuit's open time
    for _ in range(3):
        client.embed(["a"])
    assert _lines(caplog)[1:] == ["engine engine-a:8080 (model minilm-remote) answers again"]


def test_when_the_engine_answers_404_then_the_log_points_at_the_url_path_at_most_once_a_minute(
    caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    clock = Clock()
    client = _client("http://infinity:7997", lambda r: httpx.Response(404, json={"detail": "Not Found"}), clock)
    for _ in range(5):
        with pytest.raises(UpstreamError):
            client.embed(["a"])
    clock.now += REFUSAL_LOG_S
    with pytest.raises(UpstreamError):
        client.embed(["a"])
    lines = _lines(caplog)
    assert len(lines) == 2
    assert "(HTTP 404)" in lines[0] and "is base_url's path right?" in lines[0] and "--url-prefix" in lines[0]


def test_when_the_engine_answers_a_redirect_then_the_error_says_redirect_not_a_malformed_list() -> None:
    redirect = httpx.Response(307, headers={"Location": "https://engine-a/v1/embeddings"})
    with pytest.raises(UpstreamError) as info:
        _client("http://engine-a:8080/v1", lambda r: redirect).embed(["a"])
    assert info.value.message == "the model's engine answered a redirect (HTTP 307), which is not followed"


@pytest.mark.parametrize("status", [401, 403])
def test_when_the_engine_wants_a_key_then_the_log_points_at_the_key_settings_without_the_key(
    caplog: pytest.LogCaptureFixture, status: int
) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    spec = EngineSpec(kind="openai", urls=("http://vllm:8000/v1",), model="bge", api_key=Secret("sk-wrong-key"))
    client = EngineClient(spec, DIM, httpx.MockTransport(lambda r: httpx.Response(status)), name="bge-base")
    with pytest.raises(UpstreamError):
        client.embed(["a"])
    (line,) = _lines(caplog)
    assert f"(HTTP {status})" in line and "api_key_file or api_key_env" in line and "sk-wrong-key" not in line
