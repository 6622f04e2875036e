"""The audit log shared by replicas: one sequence, one Merkle log, checkpoints by the writer-role holder."""

from __future__ import annotations

import threading
from pathlib import Path

from audit.checkpoint import CheckpointSigner, parse_checkpoint
from audit.keys import Ed25519PrivateKey, generate_private_key
from audit.pg_log import PgAuditLog
from audit.pg_reader import export_pg
from audit.verify import read_jsonl, verify_log
from tests.unit.backends.postgres.pgkit import TempSchema

ORIGIN = "test-gateway"


def _pair(schema: TempSchema, key: Ed25519PrivateKey) -> tuple[PgAuditLog, PgAuditLog]:
    signer = CheckpointSigner(key, "gateway-audit")
    return (PgAuditLog(schema.url, signer, ORIGIN, checkpoint_interval_s=0.1),
            PgAuditLog(schema.url, signer, ORIGIN, checkpoint_interval_s=0.1))  # fmt: skip


def test_when_two_replicas_append_concurrently_then_there_is_one_gapless_log(schema: TempSchema) -> None:
    key = generate_private_key()
    a, b = _pair(schema, key)
    indexes: list[int] = []
    lock = threading.Lock()

    def write(log: PgAuditLog, name: str) -> None:
        futures = [log.submit({"event": "test", "writer": name, "n": i}) for i in range(100)]
        got = [f.result(timeout=30) for f in futures]
        with lock:
            indexes.extend(got)

    threads = [threading.Thread(target=write, args=(log, name)) for log, name in ((a, "a"), (b, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(indexes) == list(range(200))
    assert a.root() == b.root() and a.size() == b.size() == 200
    assert [a.holds_writer_role, b.holds_writer_role].count(True) <= 1
    a.close()  # the writer (whichever) signs a final checkpoint; the other may then take the role
    b.close()
    leaves = [bytes(r[0]) for r in schema.sql("SELECT leaf FROM audit_entries ORDER BY idx")]
    note = schema.sql("SELECT note FROM audit_checkpoints ORDER BY size DESC LIMIT 1")[0][0]
    result = verify_log(leaves, note, key.public_key(), None, origin=ORIGIN)
    assert result.size == 200


def test_when_the_writer_role_holder_closes_then_another_replica_signs(schema: TempSchema) -> None:
    key = generate_private_key()
    a, b = _pair(schema, key)
    a.append({"event": "first"})
    first = a.checkpoint_now() if a.holds_writer_role else b.checkpoint_now()
    holder, other = (a, b) if a.holds_writer_role else (b, a)
    holder.close()
    other.append({"event": "after the handover"})
    note = other.checkpoint_now()
    assert other.holds_writer_role
    assert parse_checkpoint(note).size == 2 and parse_checkpoint(first).size == 1
    other.close()


def test_when_exported_from_the_database_then_the_log_verifies(schema: TempSchema, tmp_path: Path) -> None:
    key = generate_private_key()
    a, b = _pair(schema, key)
    for i in range(5):
        (a if i % 2 else b).append({"event": "e", "i": i})
    a.close()
    b.close()
    result = export_pg(schema.url, tmp_path / "log.jsonl", tmp_path / "checkpoint.txt")
    assert (result.size, result.left_out) == (5, 0)
    leaves = read_jsonl(tmp_path / "log.jsonl")
    verified = verify_log(leaves, (tmp_path / "checkpoint.txt").read_text(), key.public_key(), None)
    assert verified.size == 5


def test_when_reopened_then_the_tree_is_rebuilt_from_the_database(schema: TempSchema) -> None:
    key = generate_private_key()
    a, b = _pair(schema, key)
    a.append({"event": "x"})
    root = a.root()
    a.close()
    b.close()
    again = PgAuditLog(schema.url, CheckpointSigner(key, "gateway-audit"), ORIGIN)
    assert again.size() == 1 and again.root() == root
    assert again.append({"event": "y"}) == 1
    again.close()
