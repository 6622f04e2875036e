"""Processes as /proc shows them (Linux), for the tests of the PII worker pool: whether one runs, whose child it
is, and a gateway's PII workers (the children of its fork server)."""

from __future__ import annotations

from pathlib import Path


def _stat(pid: int) -> list[str]:
    """The fields of ``/proc/<pid>/stat`` after the command name (state first, then the parent's id)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def running(pid: int) -> bool:
    """Whether ``pid`` runs: a zombie has exited (reaping it is its parent's business)."""
    try:
        return _stat(pid)[0] != "Z"
    except (OSError, IndexError):
        return False


def parent_of(pid: int) -> int:
    return int(_stat(pid)[1])


def children_of(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children.extend(int(c) for c in (task / "children").read_text().split())
    return children


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def fork_servers_of(pid: int) -> list[int]:
    """The PII pool's fork server of process ``pid``: its child whose command line runs multiprocessing's
    forkserver (its forked workers share that command line, a level below)."""
    return [c for c in children_of(pid) if b"multiprocessing.forkserver" in _cmdline(c)]


def pii_workers_of(pid: int) -> list[int]:
    """The running PII worker processes of gateway ``pid``: the children of its fork server."""
    return [w for server in fork_servers_of(pid) for w in children_of(server) if running(w)]
