"""The query a replica's ``gateway.store.follow.ReplicaSync`` asks on each wakeup: which collections changed.

Its sibling ``backends.sqlite.store_sync`` asks the same of the embedded database, which several worker
processes share.
"""

from __future__ import annotations

from gateway.backends.postgres.connection import PgDatabase
from gateway.store.follow import Changed


def changed_collections(db: PgDatabase) -> Changed:
    """``changed(floor)``: (tenant, collection, highest seq) of each collection with a change above ``floor``."""

    def changed(floor: int) -> list[tuple[str, str, int]]:
        with db.transaction() as conn:
            rows = conn.execute(
                "SELECT tenant, collection, max(seq) FROM store_changes WHERE seq > %s GROUP BY tenant, collection",
                (floor,),
            ).fetchall()
        return [(str(t), str(c), int(top)) for t, c, top in rows]

    return changed
