"""Several gateway worker processes for a benchmark: a throwaway PostgreSQL schema they share, and waiting until
every worker has loaded its model before the load starts.

``workers`` above 1 needs PostgreSQL (the settings refuse it on the embedded SQLite store). Each benchmark run gets
its own schema on the server ``--database-url`` names (selected through libpq's ``options``, as the tests do), so
runs never see each other's keys, ledger or audit log; it is dropped at the end.

uvicorn's workers share one listening socket and a worker accepts only once its app is built, so a load started
at the first ``/readyz`` would pin every keep-alive connection to the first worker that finished loading. Each
worker audits ``gateway.start`` when it is up; waiting for N of them is waiting for all N.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.integration.server import GatewayProcess


@contextmanager
def temp_schema(base_url: str) -> Iterator[str]:
    """A fresh schema on ``base_url``'s database for one run; yields the URL that selects it."""
    import psycopg
    from psycopg import sql

    name = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    sep = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{sep}options=-csearch_path%3D{name}"
    finally:
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


def started_workers(gw: GatewayProcess, auditor_key: str) -> int:
    """How many worker processes have audited their start (the first page of the log holds them)."""
    page = httpx.get(gw.url + "/v1/audit/entries", params={"start": 0},
                     headers={"Authorization": f"Bearer {auditor_key}"}, timeout=30).json()
    return sum(json.loads(base64.b64decode(e))["event"] == "gateway.start" for e in page["entries"])


def wait_for_workers(gw: GatewayProcess, auditor_key: str, workers: int, timeout_s: float = 300.0) -> None:
    deadline = time.monotonic() + timeout_s
    while (up := started_workers(gw, auditor_key)) < workers:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {up} of {workers} gateway workers started in {timeout_s:.0f} s: "
                               f"{gw.log_path.read_text()[-2000:]}")
        time.sleep(1)
