"""PostgreSQL as the shared system of record for any number of stateless gateway replicas.

Mirrors ``gateway.backends.sqlite`` module for module: ``connection`` (the psycopg pool; a lost database becomes
``Unavailable``), ``apikeys``, ``datakeys``, ``ledger`` and ``usage`` (one table each), ``store`` and
``store_rows`` (the collection store), ``listen`` (the LISTEN/NOTIFY wakeup, with a poll, that replicas share),
``store_sync`` (which collections changed, for ``gateway.store.follow``) and ``open`` (everything a replica keeps
here, opened together for ``gateway.bootstrap``).

PostgreSQL-only, with no SQLite sibling: ``migrations`` (the versioned schema; SQLite creates its tables in
place), ``casbin`` (the shared Casbin policy; SQLite deployments read ``policy.csv``) and ``quotas`` (quota
counters the replicas share; SQLite's processes count in memory, ``gateway.limits.quotas``).
The audit log is ``audit.pg_log``. Nothing here imports ``gateway.backends.sqlite``. See ``docs/postgres.md``.
"""
