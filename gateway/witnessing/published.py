"""At open: refuse a log that does not extend the checkpoint this gateway published; keep holding a held signer.

Both files live in the keys folder, beside the signing key and outside the database, so write access to the
database alone can neither rewrite signed history unnoticed nor lift a witness alarm.

    audit_published.checkpoint   the latest checkpoint this gateway signed (0600), replaced atomically
    audit_signing_held.json      present while signing is held after a witness refused (0600)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from audit.atomic import write_atomically
from audit.errors import LogCorruptedError
from audit.group_commit import GroupCommitLog
from audit.keys import Ed25519PublicKey
from audit.published import PublishedCheckpoint
from gateway.errors import ConfigurationError

PUBLISHED_FILE = "audit_published.checkpoint"
HOLD_FILE = "audit_signing_held.json"
log = logging.getLogger(__name__)


def guard_log(audit_log: GroupCommitLog, keys_dir: Path, public_key: Ed25519PublicKey) -> None:
    """Check ``audit_log`` against the published checkpoint, then keep the file current; close it and raise if not."""
    published = PublishedCheckpoint(keys_dir / PUBLISHED_FILE, public_key)
    try:
        published.check(audit_log)
    except LogCorruptedError as exc:
        audit_log.hold_signing(str(exc))  # close() would otherwise sign the rewritten history
        audit_log.close()
        log.error("audit log refused at start: it does not extend the checkpoint this gateway published")
        raise ConfigurationError(
            f"refusing to open the audit log: {exc}. See docs/audit.md, 'If the gateway refuses to start'"
        ) from exc
    held = read_hold(keys_dir)
    if held is not None:
        audit_log.hold_signing(held)
        log.error("audit checkpoint signing is held since a witness refused a checkpoint; see docs/audit.md")
    audit_log.on_checkpoint(_kept(published))


def _kept(published: PublishedCheckpoint) -> Callable[[str], None]:
    """``published.record`` on a thread of its own (a write and two fsyncs took 9 ms median, 80 ms worst, on the
    development VM: too long for the log's writer thread), saying once when the keys folder is read-only."""
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-published")
    failed: list[bool] = []

    def write(note: str) -> None:
        try:
            published.record(note)
        except OSError as exc:
            if not failed:
                failed.append(True)
                log.error("cannot keep the published audit checkpoint in the keys folder (%s): the start-up check "
                          "against a rewritten log is off; rely on witnesses (docs/audit.md)", type(exc).__name__)

    def keep(note: str) -> None:
        writer.submit(write, note)

    return keep


def read_hold(keys_dir: Path) -> str | None:
    """Why signing is held (the hold file's reason), or None when there is no hold file."""
    path = keys_dir / HOLD_FILE
    if not path.exists():
        return None
    try:
        return str(json.loads(path.read_text(encoding="utf-8"))["reason"])
    except (ValueError, KeyError, TypeError):
        return f"{path} is present (unreadable)"


def write_hold(keys_dir: Path, record: dict[str, Any]) -> None:
    """Record the hold so that a restart does not lift it; the operator deletes the file after acting."""
    write_atomically(keys_dir / HOLD_FILE, (json.dumps(record, sort_keys=True) + "\n").encode("utf-8"))
