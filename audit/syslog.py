"""Audit entries as syslog messages (RFC 5424) over TCP or TLS with octet-counting framing (RFC 6587).

One message per entry: facility 13 (log audit), severity from the entry's decision (deny, block and error are
warnings, the rest informational), APP-NAME ``gateway-audit``, MSGID the event type, structured data with the
entry's index, leaf hash and checkpoint anchor, and the entry itself as the JSON message. The entries hold no text
or PII values (the gateway writes digests and counts), so nothing is scrubbed here.

Delivery is at least once for what the receiver's host accepted: a batch counts as delivered when the socket took
all of it, a connection the receiver closed since the last batch is replaced before the next one is sent, and a
batch interrupted by a broken connection is sent again whole on a new one. A SIEM drops repeats by
index (in the structured data) and sees a gap by index too: syslog over TCP has no acknowledgement, so a receiver
that crashes with accepted bytes still unread loses them (RFC 6587 section 5). TLS verifies the receiver's
certificate against the system roots, or the CA file given.
"""

from __future__ import annotations

import json
import select
import socket
import ssl
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from audit.errors import AuditError
from audit.follow import Followed

FACILITY_LOG_AUDIT = 13
SEVERITY_WARNING, SEVERITY_INFO = 4, 6
SD_ID = "audit@32473"  # 32473: the private enterprise number RFC 5612 reserves for documentation and examples
APP_NAME = "gateway-audit"


@dataclass(frozen=True)
class SyslogTarget:
    """``tcp://host:port`` or ``tls://host:port``."""

    host: str
    port: int
    tls: bool

    @classmethod
    def parse(cls, url: str) -> SyslogTarget:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("tcp", "tls") or not parts.hostname or parts.port is None:
            raise AuditError("the syslog target must be tcp://host:port or tls://host:port")
        return cls(parts.hostname, parts.port, parts.scheme == "tls")


def _sd_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _printable(value: str, limit: int) -> str:
    cleaned = "".join(c if 33 <= ord(c) <= 126 else "_" for c in value)[:limit]
    return cleaned or "-"


def format_message(item: Followed, hostname: str) -> bytes:
    """One RFC 5424 message, without framing."""
    record = item.record()
    entry = record["entry"]
    decision = entry.get("decision") if isinstance(entry, dict) else None
    severity = SEVERITY_WARNING if decision in ("deny", "block", "error") else SEVERITY_INFO
    event = entry.get("event") if isinstance(entry, dict) else None
    stamp = entry.get("time") if isinstance(entry, dict) and isinstance(entry.get("time"), str) else None
    timestamp = stamp or datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    sd = (f'[{SD_ID} index="{item.index}" leafHash="{record["leaf_hash"]}" '
          f'checkpointSize="{item.checkpoint.size}" checkpointRoot="{_sd_value(item.checkpoint.root.hex())}"]')
    header = (f"<{FACILITY_LOG_AUDIT * 8 + severity}>1 {_printable(timestamp, 48)} {_printable(hostname, 255)} "
              f"{APP_NAME} - {_printable(str(event or '-'), 32)} {sd} ")
    body = json.dumps(entry, separators=(",", ":"), ensure_ascii=False)
    return header.encode("ascii") + b"\xef\xbb\xbf" + body.encode("utf-8")


def frame(message: bytes) -> bytes:
    """Octet counting (RFC 6587 3.4.1): the length, a space, the message."""
    return str(len(message)).encode("ascii") + b" " + message


def _closed_by_peer(sock: socket.socket) -> bool:
    """A syslog receiver never writes: a readable socket means it closed (or reset) the connection."""
    try:
        readable, _, errored = select.select([sock], [], [sock], 0)
    except (OSError, ValueError):
        return True
    return bool(readable or errored)


class SyslogSender:
    """A connection to one syslog receiver, opened on first use and again after a failure."""

    def __init__(self, target: SyslogTarget, ca_file: Path | None = None, timeout_s: float = 10.0,
                 hostname: str | None = None) -> None:
        self._target = target
        self._ca_file = ca_file
        self._timeout = timeout_s
        self._hostname = hostname or socket.gethostname()
        self._sock: socket.socket | None = None

    def _connect(self) -> socket.socket:
        raw = socket.create_connection((self._target.host, self._target.port), timeout=self._timeout)
        if not self._target.tls:
            return raw
        context = ssl.create_default_context(cafile=str(self._ca_file) if self._ca_file else None)
        return context.wrap_socket(raw, server_hostname=self._target.host)

    def send(self, batch: Sequence[Followed]) -> bool:
        """Send the entries of ``batch`` (withheld ones are skipped); False if the connection broke, which is then
        closed, so that the caller sends the whole batch again on a new one."""
        try:
            if self._sock is not None and _closed_by_peer(self._sock):
                self.close()  # the receiver restarted between batches: start this one on a new connection
            if self._sock is None:
                self._sock = self._connect()
            for item in batch:
                if item.leaf is not None:
                    self._sock.sendall(frame(format_message(item, self._hostname)))
        except (OSError, ssl.SSLError):
            self.close()
            return False
        return True

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None
