"""What the PII pool's fork server imports once, before it forks any worker (``gateway.pii.pool``).

spaCy, Presidio and the detector's own modules: about 4 of a spawned worker's 6 s of start on 2 cores, which
every forked worker, and every replacement of a dead one, then skips; and the spaCy pipeline itself, which the
workers then share (``gateway.pii.spacy_pipeline.preload``). torch and transformers are kept out first,
as in every worker; none of these imports starts a Python thread or loads torch (a test checks it), so forking the
server is safe: the reason the gateway's own process is never forked does not apply.

The server also removes its socket's directory when it exits: multiprocessing creates that ``pymp-*`` directory
in the gateway's temporary directory and only the gateway's orderly exit removes it, so every gateway killed
(kill -9, out of memory) left one behind, with the server's socket in it (attack12). The server exits when the
gateway is gone, however it ended, so it is the one to clean up: only once it has been reparented (its gateway
died), never while the gateway lives on and might start a new server in the same directory.
"""

import atexit
import os
import shutil
import socket
import stat

from gateway.pii.worker import exited, keep_out_unused_modules

keep_out_unused_modules()

import gateway.pii.detector  # noqa: E402, F401  # the point of this module: imported, never used here
from gateway.pii import spacy_pipeline  # noqa: E402

spacy_pipeline.preload()  # the pipeline the pool names, shared by every worker forked from here

TEMP_PREFIX = "pymp-"  # multiprocessing.util.get_temp_dir's directories: the only ones this removes


def listener_directory() -> str | None:
    """The ``pymp-*`` directory of this process's listening Unix socket (the fork server's), if it has one."""
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:  # not Linux: nothing found, nothing removed
        return None
    for fd in fds:
        try:
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            with socket.socket(fileno=os.dup(fd)) as sock:
                if sock.family != socket.AF_UNIX or not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
                    continue
                address = sock.getsockname()
        except OSError:
            continue
        if isinstance(address, str) and address:
            directory = os.path.dirname(address)
            if os.path.basename(directory).startswith(TEMP_PREFIX):
                return directory
    return None


def remove_listener_directory_at_exit() -> None:
    """Remove the server's socket directory when this process exits normally (its gateway is gone). The forked
    workers leave with ``os._exit`` and never run it."""
    directory = listener_directory()
    if directory is not None:
        atexit.register(_remove_if_orphaned, directory, os.getppid())


def _remove_if_orphaned(directory: str, gateway: int, wait_s: float = 2.0) -> None:
    """Remove ``directory`` once the gateway has exited. The server reads end-of-file on its "alive" pipe while
    the gateway is still exiting (a process's files close before its children are reparented), so it waits a
    moment for the exit itself (a pidfd becomes readable); a gateway still running after that keeps it."""
    gone = exited(gateway, wait_s)
    if gone is None:  # no pidfd on this system: reparented, so its gateway is gone
        gone = os.getppid() != gateway
    if gone:
        shutil.rmtree(directory, ignore_errors=True)


remove_listener_directory_at_exit()
