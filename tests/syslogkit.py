"""A syslog receiver for tests: TCP, octet-counted frames (RFC 6587), RFC 5424 messages parsed by a pattern."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Callable

RFC5424 = re.compile(rb'^<(\d+)>1 \S+ \S+ gateway-audit - (\S+) \[audit@32473 index="(\d+)" leafHash="[0-9a-f]{64}" '
                     rb'checkpointSize="(\d+)" checkpointRoot="[0-9a-f]{64}"\] \xef\xbb\xbf(\{.*\})$', re.S)


class Receiver:
    """Accepts connections one after another and keeps every message; ``drop_after`` breaks a connection once."""

    def __init__(self, port: int = 0) -> None:
        self.server = socket.create_server(("127.0.0.1", port))
        self.port = int(self.server.getsockname()[1])
        self.messages: list[bytes] = []
        self.drop_after: int | None = None
        self._conn: socket.socket | None = None
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self._conn = conn
            with conn:
                self._read(conn)

    def _read(self, conn: socket.socket) -> None:
        buf = b""
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            buf += data
            while b" " in buf:
                length, _, rest = buf.partition(b" ")
                if len(rest) < int(length):
                    break
                self.messages.append(rest[: int(length)])
                buf = rest[int(length):]
            if self.drop_after is not None and len(self.messages) >= self.drop_after:
                self.drop_after = None
                return

    def drop(self) -> None:
        """Close the connection in use, as a receiver that restarts does."""
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.shutdown(socket.SHUT_RDWR)

    def indexes(self) -> list[int]:
        return [int(m.group(3)) for m in map(RFC5424.match, self.messages) if m]

    def close(self) -> None:
        with contextlib.suppress(OSError):  # wakes the accepting thread, so the port really stops listening
            self.server.shutdown(socket.SHUT_RDWR)
        self.server.close()


def wait_for(done: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
