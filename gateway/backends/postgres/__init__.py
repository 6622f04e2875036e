"""PostgreSQL as the shared system of record for any number of stateless gateway replicas.

Mirrors ``gateway.backends.sqlite`` module for module: ``connection`` (the psycopg pool; a lost database becomes
``Unavailable``), ``apikeys``, ``datakeys``, ``ledger`` and ``usage`` (one table each), ``store`` and
``store_rows`` (the collection store), ``listen`` (the LISTEN/NOTIFY wakeup, with a poll, that replicas share),
``store_sync`` (which collections changed, for ``gateway.store.follow``), ``quotas`` (quota counters the
replicas share) and ``open`` (everything a replica keeps here, opened together for ``gateway.bootstrap``).

PostgreSQL-only, with no SQLite sibling: ``migrations`` (the versioned schema; SQLite creates its tables in
place) and ``casbin`` (the shared Casbin policy; SQLite deployments read ``policy.csv``).
The audit log is ``audit.pg_log``. Nothing here imports ``gateway.backends.sqlite``. See ``docs/postgres.md``.
"""
