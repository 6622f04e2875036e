"""``gateway privacy accept-ledger``: the operator's way out of a privacy ledger behind the audit log, on the record.

The gateway refuses to start while a tenant's ledger holds fewer releases than the log says it had
(``gateway.auditing.ledger_check``). Restoring the newer ledger is the fix; where there is none, this command appends
``privacy.ledger.accepted`` for the tenant (who ran it, the audited and the present count), after which the tenant's
spend counts from what the ledger holds. The gateway must be stopped (the embedded default holds the data dir's lock).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gateway.cli.common import offline_auditor, operator
from gateway.settings import Settings


def add_ledger_commands(privacy: Any) -> None:
    accept = privacy.add_parser("accept-ledger", help="accept, on the audit record, a privacy ledger behind the log")
    accept.add_argument("--tenant", required=True)
    accept.add_argument("--confirm", required=True, help="the tenant's name again")
    accept.set_defaults(func=_accept_ledger)


def _accept_ledger(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.auditing.ledger_check import ACCEPTED, MAC_PURPOSE, audited_marks, behind
    from gateway.cli.runlock import hold
    from gateway.crypto.keyfiles import load_keys

    if args.confirm != args.tenant:
        print("error: --confirm must repeat --tenant; nothing was changed", file=sys.stderr)
        return 2
    lock = hold(settings.data_dir)  # noqa: F841 - no gateway of this data dir may charge the ledger meanwhile
    mac_key = load_keys(settings.keys_dir, settings.kek_options).tenant_secret("*", MAC_PURPOSE)
    ledger, close_ledger = _open_ledger(settings)
    log, auditor = offline_auditor(settings)
    try:
        late = {b.tenant: b for b in behind(ledger, audited_marks(log, settings.data_dir, mac_key))}
        found = late.get(args.tenant)
        if found is None:
            print(f"tenant {args.tenant}: the privacy ledger is not behind the audit log; nothing was changed",
                  file=sys.stderr)
            return 1
        auditor.record_sync(ACCEPTED, "allow", actor=operator(), tenant=args.tenant,
                            audited_releases=found.audited, ledger_releases=found.ledger)
    finally:
        log.close()
        close_ledger()
    print(f"tenant {args.tenant}: accepted a privacy ledger of {found.ledger} releases where the audit log recorded "
          f"{found.audited} ({ACCEPTED}); its spend now counts from {found.ledger}")
    return 0


def _open_ledger(settings: Settings) -> tuple[Any, Any]:
    if settings.uses_postgres:
        from gateway.backends.postgres.open import open_pg_backends

        pg = open_pg_backends(settings)
        return pg.ledger, pg.close
    from gateway.backends.sqlite.ledger import SQLitePrivacyLedger
    from gateway.backends.sqlite.open import LEDGER_FILE

    ledger = SQLitePrivacyLedger(settings.data_dir / LEDGER_FILE)
    return ledger, ledger.close
