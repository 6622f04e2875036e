"""The privacy ledger in PostgreSQL (``LedgerBase``): one row per distinct release, shared by every replica."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.backends.postgres.connection import PgDatabase
from gateway.privacy.ledger_base import (
    DEFAULT_DELTA,
    DEFAULT_RADIUS,
    Counts,
    Fits,
    Group,
    LedgerBase,
    counts_by_scope,
)

# The call's new releases (a repeat does nothing) and, in the same statement, its tenant's running count.
_CHARGE = (
    "WITH added AS (INSERT INTO privacy_releases (tenant, scope, sigma, digest) "
    "SELECT %(tenant)s, %(scope)s, %(sigma)s, d FROM unnest(%(digests)s::bytea[]) AS d ON CONFLICT DO NOTHING "
    "RETURNING 1), "
    "n AS (SELECT count(*) AS c FROM added), "
    "counted AS (INSERT INTO privacy_counts (tenant, scope, sigma, releases) "
    "SELECT %(tenant)s, %(scope)s, %(sigma)s, c FROM n WHERE c > 0 ON CONFLICT (tenant, scope, sigma) "
    "DO UPDATE SET releases = privacy_counts.releases + EXCLUDED.releases) "
    "SELECT c FROM n"
)


_LOCK_PREFIX = "gateway-privacy-budget:"


class _OverBudget(Exception):
    """Raised inside a reservation's transaction to roll it back."""


class PgPrivacyLedger(LedgerBase):
    """One row per distinct release; ``ON CONFLICT DO NOTHING`` makes repeats free across replicas too."""

    remote = True

    def __init__(self, db: PgDatabase, *, delta: float = DEFAULT_DELTA, radius: float = DEFAULT_RADIUS) -> None:
        super().__init__(delta=delta, radius=radius)
        self._db = db

    def _insert_new(self, groups: Sequence[Group]) -> list[int]:
        # One statement per call (its releases and its count in one go), all sent in one pipeline: a group of
        # concurrent requests costs a couple of round trips to the database, not two per request. Statements run
        # in order, so a release shared with an earlier call of the group is that call's, as the base class says.
        with self._db.transaction() as conn:
            with conn.pipeline():
                cursors = [
                    conn.execute(_CHARGE, {"tenant": tenant, "scope": scope, "sigma": sigma, "digests": digests})
                    for tenant, scope, sigma, digests in groups
                ]
            return [int(row[0]) if (row := cur.fetchone()) else 0 for cur in cursors]

    def _insert_if(self, group: Group, fits: Fits) -> tuple[int, Counts] | None:
        # The tenant's advisory lock, held to the end of the transaction, makes check and insert one step across
        # replicas (two requests charging different scopes share no row that would order them).
        tenant, scope, sigma, digests = group
        try:
            with self._db.transaction() as conn:
                conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (_LOCK_PREFIX + tenant,))
                row = conn.execute(_CHARGE, {"tenant": tenant, "scope": scope, "sigma": sigma,
                                             "digests": digests}).fetchone()
                counts = counts_by_scope(conn.execute(
                    "SELECT scope, sigma, releases FROM privacy_counts WHERE tenant = %s", (tenant,)).fetchall())
                if not fits(counts):
                    raise _OverBudget  # rolls the transaction back
        except _OverBudget:
            return None
        return (int(row[0]) if row else 0), counts

    def rename_scope(self, tenant: str, old: str, new: str) -> None:
        with self._db.transaction() as conn:
            for table in ("privacy_releases", "privacy_counts"):
                conn.execute(f"UPDATE {table} SET scope = %s WHERE tenant = %s AND scope = %s",  # noqa: S608
                             (new, tenant, old))

    def _known(self, tenant: str, scope: str, sigma: float, digests: Sequence[bytes]) -> int:
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT count(*) FROM privacy_releases WHERE tenant = %s AND scope = %s AND sigma = %s "
                "AND digest = ANY(%s::bytea[])",
                (tenant, scope, sigma, list(digests)),
            ).fetchone()
        return int(row[0]) if row else 0

    def _counts(self, tenant: str) -> dict[str, dict[float, int]]:
        with self._db.transaction() as conn:
            rows = conn.execute(
                "SELECT scope, sigma, releases FROM privacy_counts WHERE tenant = %s",
                (tenant,),
            ).fetchall()
        return counts_by_scope(rows)
