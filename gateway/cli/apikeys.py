"""``gateway apikey create|revoke|list|rotate``: API keys for services, every change audited with its operator.

A key's id is stable: ``rotate`` gives it a new secret and keeps the old one working for a grace window (``--grace
24h``), so a service can roll its secret without a moment in which neither works. ``list`` shows each key's state,
expiry, the end of a rotation's window and the last use (to the minute, written by the running gateway), and warns
of keys whose tenant id predates the lower-case rule (``invalid-tenant``: refused, to be re-issued).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from gateway.auth.apikeys import INVALID_TENANT, ROLES, create_key, key_status, parse_grace, rotate_key
from gateway.cli.common import apikey_repo, missing_database, offline_auditor, operator
from gateway.errors import BadRequest
from gateway.settings import Settings


def _create(settings: Settings, args: argparse.Namespace) -> int:
    log, auditor = offline_auditor(settings)
    try:
        key, record = create_key(apikey_repo(settings), args.tenant, args.subject, args.role, args.expires)
        auditor.record_sync("apikey.create", "allow", actor=operator(), tenant=record.tenant, subject=record.subject,
                            key_id=record.key_id, role=record.role, expires_at=record.expires_at)
    finally:
        log.close()
    print(f"created API key {record.key_id} for {record.subject} ({record.role}) in tenant {record.tenant}")
    print(key)
    return 0


def _revoke(settings: Settings, args: argparse.Namespace) -> int:
    log, auditor = offline_auditor(settings)
    try:
        repo = apikey_repo(settings)
        record = repo.find(args.key_id)
        if record is None or not repo.revoke(args.key_id, datetime.now(UTC).isoformat(timespec="seconds")):
            print(f"no active key {args.key_id}", file=sys.stderr)
            return 1
        auditor.record_sync("apikey.revoke", "allow", actor=operator(), tenant=record.tenant, subject=record.subject,
                            key_id=record.key_id)
    finally:
        log.close()
    print(f"revoked API key {args.key_id}")
    return 0


def _rotate(settings: Settings, args: argparse.Namespace) -> int:
    try:
        grace = parse_grace(args.grace)
    except BadRequest as exc:
        print(exc.message, file=sys.stderr)
        return 2
    log, auditor = offline_auditor(settings)
    try:
        try:
            key, record = rotate_key(apikey_repo(settings), args.key_id, grace)
        except BadRequest as exc:
            print(exc.message, file=sys.stderr)
            return 1
        until = (datetime.now(UTC) + grace).isoformat(timespec="seconds")
        auditor.record_sync("apikey.rotate", "allow", actor=operator(), tenant=record.tenant, subject=record.subject,
                            key_id=record.key_id, grace_s=int(grace.total_seconds()), previous_valid_until=until)
    finally:
        log.close()
    print(f"rotated API key {record.key_id}: the previous secret works until {until}")
    print(key)
    return 0


def _list(settings: Settings, args: argparse.Namespace) -> int:
    if missing_database(settings):
        return 2
    now = datetime.now(UTC)
    records = apikey_repo(settings).list(args.tenant)
    for r in records:
        expires = f"  expires {r.expires_at}" if r.expires_at else ""
        rotating = ""
        if r.previous_expires_at and datetime.fromisoformat(r.previous_expires_at) > now:
            rotating = f"  previous secret until {r.previous_expires_at}"
        used = f"  last used {r.last_used_at}" if r.last_used_at else "  never used"
        print(f"{r.key_id}  {r.tenant}  {r.subject}  {r.role}  {key_status(r, now)}  created {r.created_at}"
              f"{expires}{rotating}{used}")
    legacy = [r.key_id for r in records if key_status(r, now) == INVALID_TENANT]
    if legacy:  # on stderr: stdout stays one line per key for scripts
        print(f"warning: {len(legacy)} key(s) ({', '.join(legacy)}) have a tenant id that is not valid (made before "
              "tenant ids were lower case) and no longer authenticate: create each again for the tenant's lower-case "
              "id (`gateway apikey create --tenant ...`), hand it over, then revoke the old one (docs/identity.md)",
              file=sys.stderr)
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    apikey = sub.add_parser("apikey", help="API keys").add_subparsers(dest="apikey_command", required=True)
    create = apikey.add_parser("create", help="create a key; prints it alone on the last line")
    create.add_argument("--tenant", required=True)
    create.add_argument("--subject", required=True)
    create.add_argument("--role", required=True, choices=list(ROLES))
    create.add_argument("--expires", help="expiry time in the future: ISO 8601 with a time zone, "
                        "e.g. 2027-01-31T00:00:00+00:00 (or ...Z)")
    create.set_defaults(func=_create)
    revoke = apikey.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    revoke.set_defaults(func=_revoke)
    rotate = apikey.add_parser("rotate", help="a new secret for the same key id; prints it alone on the last line")
    rotate.add_argument("key_id")
    rotate.add_argument("--grace", default="24h", help="how long the previous secret keeps working: a number with "
                        "s, m, h or d (default 24h; 0 ends it now; at most 30d)")
    rotate.set_defaults(func=_rotate)
    listing = apikey.add_parser("list", help="list keys (ids, owners, state, last use; never secrets)")
    listing.add_argument("--tenant")
    listing.set_defaults(func=_list)
