"""``gateway usage --tenant T --since YYYY-MM-DD [--until YYYY-MM-DD] [--format table|csv]``: a tenant's tokens
and requests per day, key and model, from the usage table the running gateways write (``GET /v1/usage`` serves the
same rows). The read is audited as ``usage.read`` with the operator as its actor."""

from __future__ import annotations

import argparse
import csv
import sys

from gateway.auth.apikeys import validate_name
from gateway.cli.common import missing_database, offline_auditor, operator, usage_repo
from gateway.errors import BadRequest
from gateway.limits.usage import Usage, day_range
from gateway.settings import Settings

COLUMNS = ("day", "key_id", "model", "requests", "tokens")


def table(rows: list[Usage]) -> str:
    """Aligned columns, then a total line."""
    lines = [COLUMNS, *((r.day, r.key_id, r.model, str(r.requests), str(r.tokens)) for r in rows),
             ("total", "", "", str(sum(r.requests for r in rows)), str(sum(r.tokens for r in rows)))]
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]
    numeric = {COLUMNS.index("requests"), COLUMNS.index("tokens")}
    return "\n".join(
        "  ".join(cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i]) for i, cell in enumerate(line))
        .rstrip() for line in lines
    )


def _usage(settings: Settings, args: argparse.Namespace) -> int:
    try:
        validate_name("tenant", args.tenant)
        since, until = day_range(args.since, args.until)
    except BadRequest as exc:
        print(exc.message, file=sys.stderr)
        return 2
    if missing_database(settings):
        return 2
    rows = usage_repo(settings).read(args.tenant, since, until)
    log, auditor = offline_auditor(settings)
    try:
        auditor.record_sync("usage.read", "allow", actor=operator(), tenant=args.tenant, count=len(rows))
    finally:
        log.close()
    if args.format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows((r.day, r.key_id, r.model, r.requests, r.tokens) for r in rows)
    else:
        print(table(rows))
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    usage = sub.add_parser("usage", help="a tenant's tokens and requests per day, key and model")
    usage.add_argument("--tenant", required=True)
    usage.add_argument("--since", required=True, help="first day, YYYY-MM-DD (UTC)")
    usage.add_argument("--until", help="last day, YYYY-MM-DD (UTC), included; default today")
    usage.add_argument("--format", choices=("table", "csv"), default="table")
    usage.set_defaults(func=_usage)
