"""One running gateway per embedded data dir: ``gateway serve`` holds an exclusive lock on ``<data>/gateway.lock``.

Maintenance commands that change keys or data under a running gateway's feet (KEK rotation, shredding) check
it and point to the admin API instead. On PostgreSQL the replicas serving the shared database run on other hosts,
with other data dirs: those commands also check the advisory lock every replica's listener holds, shared
(``gateway.backends.postgres.listen``).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from gateway.errors import ConfigurationError


def _path(data_dir: Path) -> Path:
    return data_dir / "gateway.lock"


def hold(data_dir: Path) -> IO[str]:
    """Take the lock for the life of the process; refuses when another gateway serves this data dir."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = open(_path(data_dir), "a+")  # noqa: SIM115 - held until the process exits
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise ConfigurationError(f"another gateway is already serving {data_dir}") from None
    handle.truncate(0)
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def ensure_not_serving(data_dir: Path, what: str, instead: str) -> None:
    path = _path(data_dir)
    if not path.exists():
        return
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigurationError(
                f"a gateway is serving {data_dir}; {what} needs it stopped, or use {instead}"
            ) from None
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def ensure_no_replica(database_url: str, what: str, instead: str) -> None:
    """Refuse while any replica serves the PostgreSQL database (its listener holds the replica lock, shared)."""
    import psycopg

    from gateway.backends.postgres.listen import REPLICA_LOCK

    try:
        with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as conn:
            row = conn.execute(f"SELECT pg_try_advisory_lock({REPLICA_LOCK})").fetchone()
            if row is None or not row[0]:
                raise ConfigurationError(f"gateway replicas are serving this database; {what} needs every one "
                                         f"stopped, or use {instead}")
            conn.execute(f"SELECT pg_advisory_unlock({REPLICA_LOCK})")
    except psycopg.Error as exc:
        raise ConfigurationError(f"cannot check the database for running replicas ({type(exc).__name__})") from None
