"""The embedded default: SQLite (WAL) files under the data dir, one connection per thread.

Mirrors ``gateway.backends.postgres`` module for module: ``connection``, ``apikeys``, ``datakeys``, ``ledger``,
``usage``, ``store``, ``store_rows``, ``listen`` (the poll that wakes the change followers of each worker
process), ``store_sync`` (which collections changed), ``quotas`` (counters the worker processes share, when
there are several) and ``open`` (the parts opened together for
``gateway.bootstrap``).

SQLite-only, with no PostgreSQL sibling: ``drift`` (drift statistics stay per host, in the local database, on
either backend) and ``migration_state`` (``gateway collections migrate`` runs on the embedded backend only).
Nothing here imports ``gateway.backends.postgres``.
"""
