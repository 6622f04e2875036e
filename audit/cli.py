"""``gateway-audit``: the auditor's CLI (export, verify, report, follow); it never needs the gateway running.

Exit status 0 means every check held; 1 means a check failed (the message names it); 2 means bad usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from audit import cli_follow, cli_witness
from audit.checkpoint import parse_checkpoint
from audit.errors import AuditError, VerificationError
from audit.export import export_log
from audit.keys import load_public_key
from audit.remote import GatewayClient
from audit.report import witness_status
from audit.report_cli import add_report_options, write_report
from audit.verify import VerificationResult, read_jsonl, verify_log


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gateway-audit", description="Export, verify and report on the audit log.")
    sub = p.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="export the checkpointed log and its signed checkpoint")
    source = ex.add_mutually_exclusive_group(required=True)
    source.add_argument("--data-dir", type=Path, help="an embedded gateway's data directory (audit.db)")
    source.add_argument("--database-url", help="the PostgreSQL database replicas share (needs psycopg)")
    ex.add_argument("--out", type=Path, required=True)
    ex.add_argument("--checkpoint-out", type=Path, required=True)
    for name, help_text in (
        ("verify", "verify a log against a signed checkpoint"),
        ("report", "evidence report"),
    ):
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("--log", type=Path, help="exported JSONL log")
        cmd.add_argument("--checkpoint", type=Path, help="signed checkpoint note")
        cmd.add_argument("--public-key", type=Path, required=True, help="audit public key (PEM)")
        cmd.add_argument("--previous", type=Path, help="an older checkpoint the log must extend")
        cmd.add_argument("--key-name", help="require a signature under this key name")
        cmd.add_argument("--origin", help="require this checkpoint origin")
        cmd.add_argument("--url", help="fetch the log and checkpoint from a running gateway instead")
        cmd.add_argument("--api-key", help="auditor API key for --url")
        cli_witness.add_witness_options(cmd)
        if name == "report":
            add_report_options(cmd)
    cli_witness.register(sub)
    cli_follow.register(sub)
    return p


def _load(args: argparse.Namespace) -> tuple[list[bytes], str]:
    if args.url:
        if not args.api_key or args.log or args.checkpoint:
            raise AuditError("--url needs --api-key and replaces --log and --checkpoint")
        client = GatewayClient(args.url, args.api_key)
        checkpoint = client.checkpoint()
        return client.entries(parse_checkpoint(checkpoint).size), checkpoint
    if not args.log or not args.checkpoint:
        raise AuditError("give --log and --checkpoint (or --url and --api-key)")
    return read_jsonl(args.log), args.checkpoint.read_text(encoding="utf-8")


def _verify(args: argparse.Namespace, leaves: list[bytes], checkpoint: str) -> VerificationResult:
    previous = args.previous.read_text(encoding="utf-8") if args.previous else None
    key = load_public_key(args.public_key)
    return verify_log(leaves, checkpoint, key, previous, key_name=args.key_name, origin=args.origin)


def _run(args: argparse.Namespace, out: TextIO) -> int:
    if args.command in cli_witness.COMMANDS:
        return cli_witness.run(args, out)
    if args.command in cli_follow.COMMANDS:
        return cli_follow.run(args, out)
    if args.command == "export":
        if args.database_url:
            from audit.pg_reader import export_pg  # psycopg only for this source

            exported = export_pg(args.database_url, args.out, args.checkpoint_out)
        else:
            exported = export_log(args.data_dir, args.out, args.checkpoint_out)
        out.write(f"exported {exported.size} entries to {args.out}, checkpoint to {args.checkpoint_out}\n")
        if exported.left_out:
            out.write(f"note: {exported.left_out} newer entries are not yet covered by a checkpoint\n")
        return 0
    leaves, checkpoint = _load(args)
    if args.command == "verify":
        r = _verify(args, leaves, checkpoint)
        witnessed = cli_witness.check_witnesses(args, checkpoint)
        extends = f", extends previous checkpoint of size {r.previous.size}" if r.previous else ""
        out.write(f"OK: {r.size} entries, root {r.root.hex()}, origin {r.checkpoint.origin}{extends}{witnessed}\n")
        return 0
    keys, quorum = cli_witness.witness_keys(args)
    try:
        result: VerificationResult | None = _verify(args, leaves, checkpoint)
        cli_witness.check_witnesses(args, checkpoint)
        failure = None
    except VerificationError as exc:
        result, failure = None, str(exc)
    return write_report(args, leaves, checkpoint, result, failure, out, witness_status(checkpoint, keys, quorum))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``gateway-audit``; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return _run(args, sys.stdout)
    except OSError as exc:  # a missing or unreadable file, named
        where = f" {exc.filename}" if exc.filename else ""
        sys.stderr.write(f"gateway-audit: FAILED: cannot use{where}: {exc.strerror or exc}\n")
        return 1
    except (AuditError, ValueError) as exc:
        sys.stderr.write(f"gateway-audit: FAILED: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
