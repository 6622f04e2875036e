"""A loopback HTTP proxy for tests that sits between the gateway and an engine and keeps every request body.

It forwards each request to ``upstream`` unchanged (method, path, body, content type) and answers with the
upstream's status and body, so the gateway talks to the real engine; the test reads ``bodies`` to see exactly what
left the gateway. ``retarget`` swaps the engine behind the same URL. When the upstream is down it hangs up without
an answer, as a TCP proxy would; ``close()`` stops listening: afterwards the port refuses connections, as a killed
engine's does.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class RecordingProxy:
    def __init__(self, upstream: str, port: int = 0) -> None:
        self._lock = threading.Lock()
        self.retarget(upstream)
        self.requests: list[tuple[str, bytes]] = []  # (path, body)
        self._connections: set[socket.socket] = set()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def retarget(self, upstream: str) -> None:
        """Forward from now on to another engine: the same URL with another model behind it (a swap)."""
        parts = urllib.parse.urlsplit(upstream)
        with self._lock:
            self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)

    def url(self, prefix: str = "/v1") -> str:
        return f"http://127.0.0.1:{self.port}{prefix}"

    @property
    def bodies(self) -> list[dict[str, Any]]:
        """Every JSON body sent so far, in order."""
        with self._lock:
            return [json.loads(body) for _, body in self.requests if body]

    def sent_texts(self) -> list[str]:
        """Every text that left for the engine (the ``input`` of each embeddings call)."""
        return [text for body in self.bodies for text in body.get("input", [])]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def close(self) -> None:
        """Stop listening and drop the open (keep-alive) connections: nothing answers on the port any more."""
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with proxy._lock:
                    proxy._connections.add(self.connection)

            def finish(self) -> None:
                with proxy._lock:
                    proxy._connections.discard(self.connection)
                with contextlib.suppress(OSError):
                    super().finish()

            def do_GET(self) -> None:
                self._forward(b"")

            def do_POST(self) -> None:
                self._forward(self.rfile.read(int(self.headers.get("content-length", "0"))))

            def _forward(self, body: bytes) -> None:
                with proxy._lock:
                    proxy.requests.append((self.path, body))
                    upstream = proxy._upstream
                conn = http.client.HTTPConnection(*upstream, timeout=60)
                try:
                    conn.request(self.command, self.path, body=body or None,
                                 headers={"content-type": self.headers.get("content-type", "application/json")})
                    answer = conn.getresponse()
                    payload = answer.read()
                    status, content_type = answer.status, answer.getheader("content-type", "application/json")
                except OSError:  # the engine is down: hang up without an answer, as a TCP proxy would
                    self.close_connection = True
                    return
                finally:
                    conn.close()
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
