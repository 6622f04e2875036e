"""The witness's HTTP interface: ``POST /add-checkpoint`` (C2SP tlog-witness), on the standard library's server.

The standard library suffices (one small request per checkpoint) and keeps ``audit`` installable alone.
"""

from __future__ import annotations

import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from audit.witness import Answer, Witness

MAX_BODY = 64 * 1024  # 63 proof lines and a checkpoint with a few signatures fit many times over
_log = logging.getLogger("audit.witness")


class _Handler(BaseHTTPRequestHandler):
    server: WitnessServer
    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds a client may take to send its request: a stalled one does not hold a thread for ever

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0] != "/add-checkpoint":
            self._send(Answer(404, "not found: this witness serves POST /add-checkpoint\n"))
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._send(Answer(411, "a Content-Length is required\n"))
            return
        if not 0 <= length <= MAX_BODY:
            self._send(Answer(413, f"the body must be at most {MAX_BODY} bytes\n"))
            return
        answer = self.server.witness.add_checkpoint(self.rfile.read(length))
        _log.info("add-checkpoint from %s: %d", self.client_address[0], answer.status)
        self._send(answer)

    def do_GET(self) -> None:
        self._send(Answer(405, "this witness serves POST /add-checkpoint\n"))

    def _send(self, answer: Answer) -> None:
        data = answer.body.encode("utf-8")
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are logged once, with their outcome, in ``do_POST``."""


class WitnessServer(ThreadingHTTPServer):
    """A threading HTTP server holding one :class:`Witness` (which serializes its own state updates)."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], witness: Witness) -> None:
        super().__init__(address, _Handler)
        self.witness = witness
