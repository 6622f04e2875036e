"""A throwaway PostgreSQL schema for one benchmark run (``throughput.py --database-url``).

Each run gets its own schema on the server ``--database-url`` names (selected through libpq's ``options``, as the
tests do), so runs never see each other's keys, ledger or audit log; it is dropped at the end, also when the run is
ended by SIGTERM (``throughput.py`` turns it into a normal exit).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager


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
