"""PostgreSQL as the shared system of record for any number of stateless gateway replicas.

``pool`` owns connections (psycopg_pool) and maps a lost database to ``Unavailable``; ``migrations`` the
versioned schema; ``repos`` the API-key, data-key and privacy-ledger tables; ``casbin_adapter`` the shared
Casbin policy and its LISTEN/NOTIFY watcher; ``listen`` the wakeup channel replicas share. The store itself is
``gateway.backends.postgres.store``; the audit log is ``audit.pg_log``. See ``docs/postgres.md``.
"""
