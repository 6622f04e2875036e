"""The query each worker's ``gateway.store.follow.ReplicaSync`` asks on each poll: which collections changed.

Several gateway worker processes share the data dir's ``gateway.db``; each follows the others' writes through the
change sequence, as PostgreSQL replicas do (``backends.postgres.store_sync``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from gateway.store.follow import Changed


def changed_collections(connect: Callable[[], sqlite3.Connection]) -> Changed:
    """``changed(floor)``: (tenant, collection, highest seq) of each collection with a change above ``floor``."""

    def changed(floor: int) -> list[tuple[str, str, int]]:
        rows = connect().execute(
            "SELECT tenant, collection, max(seq) FROM store_changes WHERE seq > ? GROUP BY tenant, collection",
            (floor,),
        ).fetchall()
        return [(str(t), str(c), int(top)) for t, c, top in rows]

    return changed
