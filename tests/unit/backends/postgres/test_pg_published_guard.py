"""The published-checkpoint guard on the PostgreSQL audit log: a rewrite in the shared database is refused at open."""

from __future__ import annotations

import json
import time
from pathlib import Path

import psycopg
import pytest

from audit.canonical import canonical_json
from audit.checkpoint import parse_checkpoint
from audit.cosign import WitnessKey, add_cosignatures, cosign, require_quorum
from audit.keys import Ed25519PrivateKey
from audit.merkle import leaf_hash
from audit.pg_reader import export_pg
from gateway.backends.postgres.open import open_pg_audit_log
from gateway.crypto.keyfiles import init_keys, load_keys
from gateway.errors import ConfigurationError
from gateway.settings import load_settings
from tests.unit.backends.postgres.pgkit import TempSchema


def test_when_an_entry_is_rewritten_in_postgres_then_the_log_refuses_to_open(
    schema: TempSchema, tmp_path: Path
) -> None:
    init_keys(tmp_path / "keys")
    settings = load_settings({}, database_url=schema.url, keys_dir=tmp_path / "keys", data_dir=tmp_path / "data")
    log = open_pg_audit_log(settings, load_keys(settings.keys_dir))
    for i in range(4):
        log.append({"v": 1, "event": "embeddings.create", "decision": "block", "i": i})
    note = log.checkpoint_now()
    log.close()
    published, deadline = settings.keys_dir / "audit_published.checkpoint", time.monotonic() + 10
    while not (published.exists() and published.read_text() == note) and time.monotonic() < deadline:
        time.sleep(0.02)  # written off the log's writer thread
    with psycopg.connect(schema.url) as conn:
        (leaf,) = conn.execute("SELECT leaf FROM audit_entries WHERE idx = 1").fetchone()
        forged = canonical_json({**json.loads(bytes(leaf)), "decision": "allow"})
        conn.execute("UPDATE audit_entries SET leaf = %s, leaf_hash = %s WHERE idx = 1", (forged, leaf_hash(forged)))
        conn.execute("DELETE FROM audit_checkpoints")
    with pytest.raises(ConfigurationError, match="history was rewritten"):
        open_pg_audit_log(settings, load_keys(settings.keys_dir))
    with psycopg.connect(schema.url) as conn:
        assert conn.execute("SELECT COUNT(*) FROM audit_checkpoints").fetchone() == (0,)  # nothing signed


def test_when_a_checkpoint_is_cosigned_then_postgres_keeps_the_cosigned_note(
    schema: TempSchema, tmp_path: Path
) -> None:
    init_keys(tmp_path / "keys")
    settings = load_settings({}, database_url=schema.url, keys_dir=tmp_path / "keys", data_dir=tmp_path / "data")
    log = open_pg_audit_log(settings, load_keys(settings.keys_dir))
    try:
        log.append({"v": 1, "event": "x", "decision": "allow"})
        note = log.checkpoint_now()
        wkey = Ed25519PrivateKey.from_private_bytes(bytes([5]) * 32)
        witness = WitnessKey("witness.test/w1", wkey.public_key())
        cosigned = add_cosignatures(note, cosign(parse_checkpoint(note).body, wkey, witness.name, 1), witness)
        log.add_cosignatures(cosigned)
        deadline = time.monotonic() + 10
        while log.checkpoint_now() != cosigned and time.monotonic() < deadline:
            time.sleep(0.05)
        assert log.checkpoint_now() == cosigned
    finally:
        log.close()
    export_pg(schema.url, tmp_path / "log.jsonl", tmp_path / "cp.txt")
    assert require_quorum((tmp_path / "cp.txt").read_text(), [witness], 1) == [witness]
