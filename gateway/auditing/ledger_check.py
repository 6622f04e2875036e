"""A privacy ledger behind the audit log: refused at start, so that a reset or rolled-back ledger cannot go unnoticed.

The ledger (``privacy.db`` beside the data, or PostgreSQL's tables) only ever grows: a release is never deleted, a
shred only renames its scope. Every entry that charged it records the tenant's distinct releases over all scopes
after the charge (``privacy.tenant_releases``), read in the ledger transaction's own counts: no extra write. So the
signed log holds, per tenant, a count the ledger must have reached. A ledger deleted, replaced by an older copy or
with rows deleted while the gateway was stopped holds fewer: before ledger19 that reset every tenant's spend (and
its ``privacy_budget.epsilon``) in silence.

At start the gateway reads the entries since the last check (progress and the marks so far in
``<data dir>/privacy_audited.json``, MACed; a missing, damaged or edited file means all entries again) and
refuses to serve while some tenant's ledger holds fewer releases than its highest audited count. The ways out:
restore the newer ledger, or ``gateway privacy accept-ledger --tenant T --confirm T``, which appends
``privacy.ledger.accepted`` (the audited and the present count): from that entry on, the tenant's mark is the
ledger's count. The acceptance is itself in the log, for the auditor to see.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.atomic import write_atomically
from audit.backend import AuditLogBackend
from gateway.errors import ConfigurationError
from gateway.privacy.accountant import PrivacyLedger

STATE_FILE = "privacy_audited.json"
ACCEPTED = "privacy.ledger.accepted"
PAGE = 1000
MAC_PURPOSE = "ledger-check"  # with tenant "*": the progress file's MAC key (KeyMaterial.tenant_secret)
_MARKERS = (b'"tenant_releases"', ACCEPTED.encode())  # entries without either are not parsed


@dataclass(frozen=True)
class Behind:
    tenant: str
    audited: int  # the highest count the log holds for the tenant
    ledger: int  # what the ledger holds now


def audited_marks(audit_log: AuditLogBackend, data_dir: Path, mac_key: bytes) -> dict[str, int]:
    """Per tenant, the highest ``tenant_releases`` the log holds (reset by an acceptance), as of its end now.

    The progress file is MACed under ``mac_key`` (derived from ``hmac.key``): one edited to lower a mark, like one
    missing or damaged, is not believed, and the whole log is read again."""
    path = data_dir / STATE_FILE
    start, marks = _load(path, mac_key)
    size = audit_log.size()
    if start > size:  # the state belongs to a longer log than this one: read this one whole
        start, marks = 0, {}
    for lo in range(start, size, PAGE):
        for leaf in audit_log.entries(lo, min(size, lo + PAGE)):
            if any(marker in leaf for marker in _MARKERS):
                _apply(json.loads(leaf), marks)
    if size != start:
        body = json.dumps({"next": size, "marks": marks}, sort_keys=True)
        write_atomically(path, json.dumps({"state": body, "mac": _mac(mac_key, body)}).encode())
    return marks


def behind(ledger: PrivacyLedger, marks: dict[str, int]) -> list[Behind]:
    """The tenants whose ledger holds fewer releases than the log says it had."""
    found = []
    for tenant, audited in sorted(marks.items()):
        held = ledger.view(tenant).total.releases
        if held < audited:
            found.append(Behind(tenant, audited, held))
    return found


def check_ledger(ledger: PrivacyLedger, audit_log: AuditLogBackend, data_dir: Path,
                 secret_for: Callable[[str, str], bytes]) -> None:
    """Refuse to serve with a ledger behind the audit log (a ConfigurationError that names the way out).
    ``secret_for`` is ``KeyMaterial.tenant_secret``."""
    late = behind(ledger, audited_marks(audit_log, data_dir, secret_for("*", MAC_PURPOSE)))
    if late:
        shown = ", ".join(f"{b.tenant} ({b.ledger} releases, the audit log says at least {b.audited})"
                          for b in late[:5])
        more = f" and {len(late) - 5} more" if len(late) > 5 else ""
        raise ConfigurationError(
            f"the privacy ledger is behind the audit log: it was deleted, rolled back or cut, which resets spend "
            f"against privacy_budget.epsilon. Tenants: {shown}{more}. Restore the newer ledger (privacy.db in the "
            "data dir, or the PostgreSQL privacy tables), or accept the loss on the record: "
            "`gateway privacy accept-ledger --tenant T --confirm T` (audited as privacy.ledger.accepted; "
            "docs/privacy.md)"
        )


def _apply(entry: dict[str, Any], marks: dict[str, int]) -> None:
    tenant = entry.get("tenant")
    if not isinstance(tenant, str):
        return
    if entry.get("event") == ACCEPTED:
        held = entry.get("ledger_releases")
        if isinstance(held, int) and not isinstance(held, bool):
            marks[tenant] = held
        return
    privacy = entry.get("privacy")
    count = privacy.get("tenant_releases") if isinstance(privacy, dict) else None
    if isinstance(count, int) and not isinstance(count, bool) and count > marks.get(tenant, 0):
        marks[tenant] = count


def _mac(key: bytes, body: str) -> str:
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def _load(path: Path, key: bytes) -> tuple[int, dict[str, int]]:
    try:
        sealed = json.loads(path.read_text("utf-8"))
        if not hmac.compare_digest(str(sealed["mac"]), _mac(key, str(sealed["state"]))):
            raise ValueError("not this installation's, or edited")
        state = json.loads(sealed["state"])
        start, marks = int(state["next"]), state["marks"]
        if start < 0 or not isinstance(marks, dict) or not all(
            isinstance(t, str) and isinstance(c, int) and not isinstance(c, bool) for t, c in marks.items()
        ):
            raise ValueError("damaged")
        return start, dict(marks)
    except (OSError, ValueError, KeyError, TypeError):
        return 0, {}  # none yet, or damaged: read the whole log again
