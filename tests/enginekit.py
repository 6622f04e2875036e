"""A small real OpenAI-compatible embeddings server for tests, on loopback, recording every text it receives.

It computes vectors with the packaged all-MiniLM-L6-v2 (the real model, loaded in the test process), so a gateway
in front of it answers with vectors of the same space as its in-process model. ``mode`` switches its behaviour
while it runs: ``ok``; ``cls`` (the same weights, another pooling: the first token's vector instead of the mean, what
a swapped or misconfigured engine looks like); ``error500`` and ``error400`` (the engine refuses); ``hangup`` (the
connection is closed without an answer, as a dead engine behind a proxy).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

PORTS = range(18100, 18200)  # this suite's range on a shared machine; free_port() for anything else


def port_in_range(avoid: Sequence[int] = ()) -> int:
    """A free loopback port in ``PORTS`` (not in ``avoid``)."""
    for port in PORTS:
        if port in avoid:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in the engine tests' range")


class RecordingEngine:
    """``POST /v1/embeddings`` as OpenAI, TEI, Infinity and vLLM serve it; ``received`` holds every input list."""

    def __init__(self, model: Any, port: int = 0) -> None:
        self._model = model  # a SentenceTransformerEmbedder
        self.mode = "ok"
        self.received: list[list[str]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self.server = self._bind(port)
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, name="recording-engine", daemon=True).start()

    def _bind(self, port: int) -> ThreadingHTTPServer:
        """On ``port``, or the first port of ``PORTS`` that binds: a port found free and bound later could be taken
        in between by another test run on the machine."""
        if port:
            return ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        for candidate in PORTS:
            try:
                return ThreadingHTTPServer(("127.0.0.1", candidate), self._handler())
            except OSError:
                continue
        raise RuntimeError("no free port in the engine tests' range")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def texts(self, exclude: Sequence[str] = ()) -> list[str]:
        """Every text received, in order, without those in ``exclude`` (the fingerprint probes)."""
        with self._lock:
            return [t for batch in self.received for t in batch if t not in exclude]

    def vectors(self, texts: list[str]) -> np.ndarray:
        if self.mode == "cls":
            tokens = self._model.model.encode(texts, output_value="token_embeddings", convert_to_numpy=False)
            first = np.stack([t[0].float().cpu().numpy() for t in tokens])
            return np.asarray(first / np.linalg.norm(first, axis=1, keepdims=True), dtype=np.float32)
        return np.asarray(self._model.encode(texts), dtype=np.float32)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        engine = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))))
                texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
                with engine._lock:
                    engine.received.append(list(texts))
                    engine.headers.append({k.lower(): v for k, v in self.headers.items()})
                mode = engine.mode
                if mode == "hangup":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if mode in ("error500", "error400"):
                    self._send(int(mode[-3:]), {"error": {"message": f"cannot embed {texts[0]!r}"}})
                    return
                vectors = engine.vectors(texts)
                data = [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)]
                self._send(200, {"object": "list", "data": data, "model": body.get("model", ""),
                                 "usage": {"prompt_tokens": 0, "total_tokens": 0}})

            def _send(self, status: int, doc: dict[str, Any]) -> None:
                raw = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def models_yaml(models: dict[str, str], max_batch: int = 8, fingerprint: str = "") -> str:
    """A ``models.yaml`` declaring one remote model per ``name: base_url`` (all-MiniLM-L6-v2's space, 384 dims)."""
    out = ["models:"]
    for name, url in models.items():
        out += [f"  - name: {name}", "    version: 1.0.0", "    dimension: 384", "    engine:", "      kind: openai",
                f"      base_url: {url}", "      model: all-MiniLM-L6-v2", "      timeout_s: 10",
                f"      max_batch: {max_batch}"]
        if fingerprint:
            out.append(f"    fingerprint: {fingerprint}")
    return "\n".join(out) + "\n"
