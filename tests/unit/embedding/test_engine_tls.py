"""An engine behind TLS and mutual TLS, with a real PKI and a real TLS server on loopback: ``ca_file`` trusts an
internal CA, ``client_cert``/``client_key`` present the gateway's certificate, and each mistake is named.

Regressions: a missing ``ca_file`` or ``client_key`` passed ``gateway policy check`` and then stopped ``gateway
serve`` with a FileNotFoundError traceback; ``ca_file`` beside an ``http://`` URL was accepted (no TLS at all); a
certificate for another host, or an engine wanting a client certificate, read "unavailable" with no reason.
"""

from __future__ import annotations

import http.server
import json
import logging
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.embedding.engines import EngineClient, EngineSpec
from gateway.embedding.registry import declared_models
from gateway.errors import ConfigurationError, ModelUnavailable
from tests.tlskit import Pki, make_pki

DIM = 4


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


class _Embeddings(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        texts = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["input"]
        body = json.dumps({"data": [{"index": i, "embedding": [1.0, 0.0, 0.0, float(i)]}
                                    for i in range(len(texts))]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _serve(cert: tuple[str, str], client_ca: str | None = None) -> Iterator[str]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*cert)
    if client_ca:
        context.load_verify_locations(client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Embeddings)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def tls_url(pki: Pki) -> Iterator[str]:
    yield from _serve(pki.server)


@pytest.fixture(scope="module")
def mtls_url(pki: Pki) -> Iterator[str]:
    yield from _serve(pki.server, client_ca=pki.ca)


@pytest.fixture(scope="module")
def wrong_host_url(pki: Pki) -> Iterator[str]:
    yield from _serve(pki.wrong_host)


def _client(url: str, ca_file: str = "", client: tuple[str, str] = ("", "")) -> EngineClient:
    spec = EngineSpec(kind="openai", urls=(url,), model="m", ca_file=ca_file, client_cert=client[0],
                      client_key=client[1], timeout_s=5)
    return EngineClient(spec, DIM, name="remote")


def _refusal(client: EngineClient, caplog: pytest.LogCaptureFixture) -> str:
    caplog.set_level(logging.WARNING, "gateway.embedding.engines")
    with pytest.raises(ModelUnavailable):
        client.embed(["a"])
    (line,) = [r.getMessage() for r in caplog.records if r.name == "gateway.embedding.engines"]
    return line


def test_when_ca_file_names_the_internal_ca_then_the_engine_is_reached_over_tls(pki: Pki, tls_url: str) -> None:
    assert _client(tls_url, pki.ca).embed(["a", "b"]).shape == (2, DIM)


def test_when_the_engine_holds_a_client_certificate_requirement_then_mutual_tls_is_served(
    pki: Pki, mtls_url: str
) -> None:
    assert _client(mtls_url, pki.ca, pki.client).embed(["a"]).shape == (1, DIM)


def test_when_the_engine_requires_a_client_certificate_and_none_is_set_then_the_log_says_so(
    pki: Pki, mtls_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert "client_cert and client_key" in _refusal(_client(mtls_url, pki.ca), caplog)


@pytest.mark.parametrize("which", ["another CA", "the public bundle"])
def test_when_the_engine_certificate_is_not_from_a_trusted_ca_then_the_log_says_so(
    pki: Pki, tls_url: str, caplog: pytest.LogCaptureFixture, which: str
) -> None:
    line = _refusal(_client(tls_url, pki.other_ca if which == "another CA" else ""), caplog)
    assert "the engine's certificate is not accepted" in line and "see ca_file" in line


def test_when_the_engine_certificate_names_another_host_then_the_log_says_so(
    pki: Pki, wrong_host_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert "it does not name this IP address" in _refusal(_client(wrong_host_url, pki.ca), caplog)


def _declare(tmp_path: Path, engine: str) -> None:
    (tmp_path / "models.yaml").write_text(f"models:\n  - name: r\n    version: 1.0.0\n    dimension: 384\n"
                                          f"    engine: {{kind: openai, model: m, {engine}}}\n")


@pytest.mark.parametrize(("engine", "said"), [
    ("base_url: 'https://e/v1', ca_file: {d}/missing.pem", "engine ca_file is not a readable file"),
    ("base_url: 'https://e/v1', client_cert: {client}, client_key: {d}/missing.key",
     "engine client_key is not a readable file"),
    ("base_url: 'https://e/v1', client_cert: {client}", "client_cert and client_key go together"),
    ("base_url: 'http://e/v1', ca_file: {ca}", "apply to https only"),
    ("base_url: 'https://e/v1', ca_file: {d}/models.yaml", "engine ca_file cannot be loaded as PEM"),
    ("base_url: 'https://e/v1', client_cert: {ca}, client_key: {client}",
     "engine client_cert and client_key cannot be loaded as PEM"),
])
def test_when_tls_settings_are_wrong_then_the_registry_refuses_them_naming_the_key(
    tmp_path: Path, pki: Pki, engine: str, said: str
) -> None:
    _declare(tmp_path, engine.format(d=tmp_path, ca=pki.ca, client=pki.client[0]))
    with pytest.raises(ConfigurationError, match=said):
        declared_models(tmp_path)


def test_when_tls_settings_are_right_then_the_registry_keeps_them(tmp_path: Path, pki: Pki) -> None:
    _declare(tmp_path, f"base_url: 'https://e/v1', ca_file: {pki.ca}, client_cert: {pki.client[0]}, "
                       f"client_key: {pki.client[1]}")
    specs, _ = declared_models(tmp_path)
    engine = next(s for s in specs if s.name == "r").engine
    assert engine is not None and (engine.ca_file, engine.client_cert) == (pki.ca, pki.client[0])
