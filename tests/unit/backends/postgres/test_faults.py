"""The database restarting under load: requests fail as ``Unavailable`` (503), then recover without a restart.

Restarts the local PostgreSQL cluster (``pg_ctlcluster``), so it runs only where that is allowed (CI, this
machine as root); the cluster is running again when the test ends, whatever happened.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from audit.checkpoint import CheckpointSigner
from audit.errors import LogWriteError
from audit.keys import generate_private_key
from audit.pg_log import PgAuditLog
from gateway.backends.postgres.connection import PgDatabase
from gateway.backends.postgres.datakeys import PgDataKeyRepository
from gateway.backends.postgres.store import PostgresStore
from gateway.crypto import Envelope, Keyring
from gateway.errors import Unavailable
from tests.unit.backends.postgres.pgkit import TempSchema
from tests.unit.store.store_kit import TEST_SETTINGS, chunk, collection, unit_vectors

CLUSTERS = sorted(p.name for p in Path("/etc/postgresql").glob("*")) if Path("/etc/postgresql").exists() else []
pytestmark = pytest.mark.skipif(not (CLUSTERS and shutil.which("pg_ctlcluster")), reason="no local cluster to restart")


def _restart() -> None:
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", CLUSTERS[-1], "main", "restart", "-m", "fast"],
                   check=True, timeout=60, capture_output=True)  # fmt: skip


def _ensure_running() -> None:
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", CLUSTERS[-1], "main", "start"],
                   check=False, timeout=60, capture_output=True)  # fmt: skip


def test_when_the_database_restarts_then_writes_fail_closed_and_recover_without_reopening(
    db: PgDatabase, schema: TempSchema
) -> None:
    store = PostgresStore(db, Envelope(Keyring.generate(), PgDataKeyRepository(db)), settings=TEST_SETTINGS)
    log = PgAuditLog(schema.url, CheckpointSigner(generate_private_key(), "gateway-audit"), "t", 0.2)
    store.create_collection(collection())
    vectors = unit_vectors(400)
    acknowledged: list[tuple[str, int]] = []
    failures: list[type[BaseException]] = []
    try:
        _restart()
        recovered_at = None
        started = time.monotonic()
        for i in range(400):
            try:
                index = log.append({"event": "put", "i": i})
                [record] = store.put("tenant-a", "docs", [chunk(f"d{i}", 0, vectors[i])], index)
                acknowledged.append((record, index))
                if failures and recovered_at is None:
                    recovered_at = time.monotonic() - started
                if recovered_at is not None and len(acknowledged) >= 5:
                    break
            except (Unavailable, LogWriteError) as exc:
                failures.append(type(exc))
                time.sleep(0.05)
        assert acknowledged, "nothing succeeded after the restart"
        assert set(failures) <= {Unavailable, LogWriteError}
        for record, index in acknowledged:  # every acknowledged write survived
            assert store.get("tenant-a", "docs", record).audit_index == index
        assert log.size() >= len(acknowledged)
    finally:
        _ensure_running()
        log.close()
        store.close()
