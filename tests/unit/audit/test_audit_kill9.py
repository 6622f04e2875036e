"""Durability: entries acknowledged before a SIGKILL are all in the log after restart, and it verifies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from audit.checkpoint import CheckpointSigner
from audit.export import export_log
from audit.keys import Ed25519PrivateKey
from audit.sqlite_log import SQLiteAuditLog
from audit.verify import read_jsonl, verify_log

CHILD = textwrap.dedent(
    """
    import sys, threading
    from pathlib import Path
    from audit.checkpoint import CheckpointSigner
    from audit.keys import Ed25519PrivateKey
    from audit.sqlite_log import SQLiteAuditLog

    signer = CheckpointSigner(Ed25519PrivateKey.from_private_bytes(bytes(range(32))), "k9")
    log = SQLiteAuditLog(Path(sys.argv[1]), signer, "kill9.test", checkpoint_interval_s=0.05)
    lock = threading.Lock()

    def work(t):
        n = 0
        while True:
            rid = f"req-{t}-{n}"
            idx = log.append({"v": 1, "event": "embeddings.create", "request_id": rid, "decision": "allow"})
            with lock:
                sys.stdout.write(f"{idx} {rid}\\n")
                sys.stdout.flush()
            n += 1

    for t in range(4):
        threading.Thread(target=work, args=(t,), daemon=True).start()
    threading.Event().wait()
    """
)


def test_when_writer_is_killed_then_every_acknowledged_entry_survives_and_log_verifies(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path / "audit.db")], stdout=subprocess.PIPE, text=True, env=env
    )
    assert child.stdout is not None
    acked: dict[int, str] = {}
    for line in child.stdout:
        index, request_id = line.split()
        acked[int(index)] = request_id
        if len(acked) >= 300:
            break
    child.send_signal(signal.SIGKILL)
    rest, _ = child.communicate(timeout=30)  # lines written before the kill were acknowledged too
    for line in rest.splitlines():
        if len(line.split()) == 2:
            index, request_id = line.split()
            acked[int(index)] = request_id
    assert child.returncode == -signal.SIGKILL

    signer = CheckpointSigner(Ed25519PrivateKey.from_private_bytes(bytes(range(32))), "k9")
    log = SQLiteAuditLog(tmp_path / "audit.db", signer, "kill9.test")
    try:
        assert log.size() >= max(acked) + 1
        for idx, rid in acked.items():
            assert json.loads(log.entries(idx, idx + 1)[0])["request_id"] == rid
    finally:
        log.close()
    out, cp = tmp_path / "log.jsonl", tmp_path / "cp.txt"
    export_log(tmp_path, out, cp)
    assert verify_log(read_jsonl(out), cp.read_text(), signer.public_key()).size == log.size()
