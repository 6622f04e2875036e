"""Loaded by every Python process started with this folder on PYTHONPATH: forbids outbound connections.

Any connection or name lookup that is not loopback (or a Unix socket) raises and is appended to the file named by
``EGRESS_GUARD_LOG``, so the test sees it even when the code under test swallows the error. With ``EGRESS_ALLOW``
(``host:port`` pairs, comma-separated: the configured engines) only those are allowed, loopback or not: any other
connection, to loopback included, is refused the same way. Test-only.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import Any

_LOG = os.environ.get("EGRESS_GUARD_LOG", "")
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}
_ALLOW = {(h, int(p)) for h, _, p in (pair.strip().rpartition(":") for pair in
                                      os.environ.get("EGRESS_ALLOW", "").split(",") if pair.strip())}


def _is_loopback(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _refuse(what: str) -> None:
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as fh:
            fh.write(what + "\n")
    raise OSError(f"egress forbidden by the test: {what}")


_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
_getaddrinfo = socket.getaddrinfo


def _guard(sock: socket.socket, address: Any) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    allowed = (str(address[0]), int(address[1])) in _ALLOW if _ALLOW else _is_loopback(address[0])
    if not allowed:
        _refuse(f"connect {address!r}")


def connect(self: socket.socket, address: Any) -> None:
    _guard(self, address)
    _connect(self, address)


def connect_ex(self: socket.socket, address: Any) -> int:
    _guard(self, address)
    return _connect_ex(self, address)


def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if host is not None and not _is_loopback(host) and not any(host == h for h, _ in _ALLOW):
        _refuse(f"getaddrinfo {host!r}")
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = connect  # type: ignore[method-assign,assignment]
socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
socket.getaddrinfo = getaddrinfo
if _LOG:
    with open(_LOG + ".armed", "a", encoding="utf-8") as fh:
        fh.write(f"{os.getpid()}\n")
