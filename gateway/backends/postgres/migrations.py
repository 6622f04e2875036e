"""Versioned schema migrations, applied in order, each once, each in its own transaction.

``schema_migrations`` records what is applied. Replicas starting together take a transaction-scoped
advisory lock (keyed by the schema's name, so separate schemas in one database never wait on each other), so
exactly one applies a migration and the others find it done. A migration is never edited once released:
changes come as a new version at the end of ``MIGRATIONS``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from audit.pg_log import SCHEMA as AUDIT_SCHEMA
from gateway.backends.postgres.connection import PgDatabase
from gateway.observability.logs import Vetted

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


_V1_STORE = """
CREATE TABLE store_collections (
    tenant TEXT NOT NULL,
    name TEXT NOT NULL,
    model TEXT NOT NULL,
    model_version TEXT NOT NULL,
    dimension INTEGER NOT NULL CHECK (dimension > 0),
    index_type TEXT NOT NULL CHECK (index_type IN ('flat', 'hnsw', 'ivf')),
    retain_text BOOLEAN NOT NULL,
    created_at TEXT NOT NULL,
    chunk_count BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, name)
);
CREATE TABLE store_chunks (
    id BIGSERIAL PRIMARY KEY,
    record_id TEXT NOT NULL UNIQUE,
    tenant TEXT NOT NULL,
    collection TEXT NOT NULL,
    document_id TEXT NOT NULL,
    chunk_index INTEGER NOT NULL,
    span_start INTEGER NOT NULL,
    span_end INTEGER NOT NULL,
    vector BYTEA NOT NULL,
    text BYTEA,
    metadata BYTEA NOT NULL,
    provenance TEXT NOT NULL,
    key_version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    audit_index BIGINT,
    UNIQUE (tenant, collection, document_id, chunk_index),
    FOREIGN KEY (tenant, collection) REFERENCES store_collections (tenant, name) ON DELETE CASCADE
);
CREATE TABLE store_changes (
    seq BIGSERIAL PRIMARY KEY,
    tenant TEXT NOT NULL,
    collection TEXT NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('add', 'remove', 'drop')),
    chunk_id BIGINT
);
CREATE INDEX store_changes_by_collection ON store_changes (tenant, collection, seq);
CREATE TABLE store_snapshots (
    tenant TEXT NOT NULL,
    collection TEXT NOT NULL,
    payload BYTEA NOT NULL,
    PRIMARY KEY (tenant, collection),
    FOREIGN KEY (tenant, collection) REFERENCES store_collections (tenant, name) ON DELETE CASCADE
);
"""

_V1_SHARED = """
CREATE TABLE api_keys (
    key_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    subject TEXT NOT NULL,
    role TEXT NOT NULL,
    digest TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT
);
CREATE TABLE data_keys (
    tenant TEXT NOT NULL,
    version INTEGER NOT NULL,
    kek_version INTEGER NOT NULL,
    wrapped BYTEA NOT NULL,
    created TEXT NOT NULL,
    PRIMARY KEY (tenant, version)
);
CREATE TABLE privacy_releases (
    tenant TEXT NOT NULL,
    scope TEXT NOT NULL,
    sigma DOUBLE PRECISION NOT NULL,
    digest BYTEA NOT NULL,
    PRIMARY KEY (tenant, scope, sigma, digest)
);
CREATE TABLE casbin_rule (
    id BIGSERIAL PRIMARY KEY,
    ptype TEXT NOT NULL,
    v0 TEXT NOT NULL DEFAULT '',
    v1 TEXT NOT NULL DEFAULT '',
    v2 TEXT NOT NULL DEFAULT '',
    v3 TEXT NOT NULL DEFAULT '',
    v4 TEXT NOT NULL DEFAULT '',
    v5 TEXT NOT NULL DEFAULT ''
);
"""

_V2_PRIVACY_COUNTS = """
CREATE TABLE privacy_counts (
    tenant TEXT NOT NULL,
    scope TEXT NOT NULL,
    sigma DOUBLE PRECISION NOT NULL,
    releases BIGINT NOT NULL,
    PRIMARY KEY (tenant, scope, sigma)
);
INSERT INTO privacy_counts (tenant, scope, sigma, releases)
SELECT tenant, scope, sigma, COUNT(*) FROM privacy_releases GROUP BY tenant, scope, sigma;
"""

_V3_CHANGE_PRUNING = """
ALTER TABLE store_changes ADD COLUMN changed_at TIMESTAMPTZ NOT NULL DEFAULT now();
ALTER TABLE store_collections ADD COLUMN changes_pruned_through BIGINT NOT NULL DEFAULT 0;
"""

_V4_SNAPSHOT_SEQ = """
ALTER TABLE store_snapshots ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
"""

_V5_KEY_ROTATION = """
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS previous_digest TEXT;
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS previous_expires_at TEXT;
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS last_used_at TEXT;
"""

_V6_STORE_COMMITS = """
CREATE TABLE IF NOT EXISTS store_commits (
    audit_index BIGINT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('committed', 'unfinished'))
);
"""

_V7_JOBS_FILES = """
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    owner TEXT NOT NULL,
    params TEXT NOT NULL,
    total BIGINT NOT NULL,
    succeeded BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    created_at DOUBLE PRECISION NOT NULL,
    started_at DOUBLE PRECISION,
    finished_at DOUBLE PRECISION,
    expires_at DOUBLE PRECISION NOT NULL,
    lease_owner TEXT,
    lease_until DOUBLE PRECISION,
    result TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX jobs_by_tenant ON jobs (tenant, kind, created_at);
CREATE INDEX jobs_active ON jobs (state, created_at);
CREATE TABLE job_items (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx BIGINT NOT NULL,
    ok BOOLEAN NOT NULL,
    sealed BYTEA NOT NULL,
    PRIMARY KEY (job_id, idx)
);
CREATE TABLE files (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    purpose TEXT NOT NULL,
    filename BYTEA NOT NULL,
    bytes BIGINT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    content BYTEA NOT NULL
);
CREATE INDEX files_by_tenant ON files (tenant, created_at);
"""

_V8_JOB_INPUTS = """
CREATE TABLE job_inputs (
    job_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    sealed BYTEA NOT NULL
);
"""

_V9_USAGE = """
CREATE TABLE IF NOT EXISTS usage_daily (
    tenant TEXT NOT NULL,
    day TEXT NOT NULL,
    key_id TEXT NOT NULL,
    model TEXT NOT NULL,
    tokens BIGINT NOT NULL,
    requests BIGINT NOT NULL,
    PRIMARY KEY (tenant, day, key_id, model)
);
CREATE TABLE IF NOT EXISTS quota_windows (
    counter TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    used BIGINT NOT NULL,
    PRIMARY KEY (counter, window_start)
);
"""

_V10_FILE_UPLOADER = """
ALTER TABLE files ADD COLUMN uploader BYTEA;
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "store, keys, privacy ledger, casbin, audit log", _V1_STORE + _V1_SHARED + AUDIT_SCHEMA),
    Migration(2, "privacy ledger release counts (no scan of all releases per request)", _V2_PRIVACY_COUNTS),
    Migration(3, "store change sequence pruned behind snapshots", _V3_CHANGE_PRUNING),
    Migration(4, "shared index snapshots replaced only by newer ones", _V4_SNAPSHOT_SEQ),
    Migration(5, "API key rotation with a grace window, and last use", _V5_KEY_ROTATION),
    Migration(6, "ingest entries committed or declared unfinished", _V6_STORE_COMMITS),
    Migration(7, "durable jobs with leases, their items, and uploaded files (batch API)", _V7_JOBS_FILES),
    Migration(8, "staged inputs of ingest jobs, sealed", _V8_JOB_INPUTS),
    Migration(9, "usage per tenant, key, model and day; quota windows the replicas share", _V9_USAGE),
    Migration(10, "who uploaded each file, sealed (an input file's content is its uploader's)", _V10_FILE_UPLOADER),
)

_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


def applied(db: PgDatabase) -> list[int]:
    """Versions already applied (empty on a fresh database)."""
    with db.transaction() as conn:
        conn.execute(_BOOKKEEPING)
        rows = conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    return [int(str(r[0])) for r in rows]


def upgrade(db: PgDatabase, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[int]:
    """Apply every migration not yet applied; returns the versions this call applied."""
    done: list[int] = []
    for migration in migrations:
        with db.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':migrate'))")
            conn.execute(_BOOKKEEPING)
            row = conn.execute("SELECT 1 FROM schema_migrations WHERE version = %s", (migration.version,)).fetchone()
            if row is not None:
                continue
            conn.execute(migration.sql)  # constant DDL without parameters: several statements in one call
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (migration.version, migration.name)
            )
            log.info("applied schema migration %d: %s", migration.version, Vetted(migration.name))
            done.append(migration.version)
    return done
