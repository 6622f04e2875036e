"""``gateway-audit follow``: stream newly checkpointed entries as JSON lines (or to syslog) for a SIEM to ingest.

    gateway-audit follow --data-dir var --state follow.json                  # JSON lines on stdout, resumable
    gateway-audit follow --database-url postgresql://... --public-key keys/audit_public.pem
    gateway-audit follow --data-dir var --syslog tls://siem.internal:6514 --syslog-ca ca.pem --state s.json

A broken source (the gateway restarting, the database away) is retried every interval; a log that fails
verification stops the command with exit status 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TextIO

from audit.errors import AuditError, VerificationError
from audit.follow import Followed, Follower, FollowSource, Progress, SqliteSource
from audit.follow_sources import GatewaySource, PgSource
from audit.keys import load_public_key
from audit.syslog import SyslogSender, SyslogTarget

COMMANDS = ("follow",)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = sub.add_parser("follow", help="stream new checkpointed entries as JSON lines or to syslog (for a SIEM)")
    source = cmd.add_mutually_exclusive_group(required=True)
    source.add_argument("--data-dir", type=Path, help="an embedded gateway's data directory (audit.db)")
    source.add_argument("--database-url", help="the PostgreSQL database replicas share (needs psycopg)")
    source.add_argument("--url", help="a running gateway (with --api-key of an auditor); every poll is audited")
    cmd.add_argument("--api-key", help="auditor API key for --url")
    cmd.add_argument("--since", type=int, default=0, metavar="N", help="first index to emit (default 0)")
    cmd.add_argument("--state", type=Path, help="file that remembers the next index; resumes from it if present")
    cmd.add_argument("--public-key", type=Path, help="verify each checkpoint and prove each entry in it")
    cmd.add_argument("--key-name", help="require signatures under this key name (with --public-key)")
    cmd.add_argument("--interval", type=float, default=1.0, help="seconds between polls (default 1)")
    cmd.add_argument("--once", action="store_true", help="emit what is checkpointed now, then exit")
    cmd.add_argument("--syslog", metavar="URL", help="send to tcp://host:port or tls://host:port (RFC 5424)")
    cmd.add_argument("--syslog-ca", type=Path, help="CA file for a tls:// receiver (default: system roots)")


def _source(args: argparse.Namespace) -> FollowSource:
    if args.url:
        if not args.api_key:
            raise AuditError("--url needs --api-key")
        return GatewaySource(args.url, args.api_key)
    if args.api_key:
        raise AuditError("--api-key goes with --url only")
    if args.database_url:
        return PgSource(args.database_url)
    return SqliteSource(args.data_dir)


class _Lines:
    def __init__(self, out: TextIO) -> None:
        self._out = out

    def send(self, batch: list[Followed]) -> bool:
        for item in batch:
            if item.leaf is not None:
                self._out.write(json.dumps(item.record(), separators=(",", ":"), sort_keys=True) + "\n")
        self._out.flush()
        return True

    def close(self) -> None:
        pass


def run(args: argparse.Namespace, out: TextIO) -> int:
    if args.interval <= 0:
        raise AuditError("--interval must be positive")
    if args.key_name and not args.public_key:
        raise AuditError("--key-name goes with --public-key")
    key = load_public_key(args.public_key) if args.public_key else None
    follower = Follower(_source(args), Progress(args.state, args.since), key, args.key_name)
    sink: _Lines | SyslogSender = (
        SyslogSender(SyslogTarget.parse(args.syslog), args.syslog_ca) if args.syslog else _Lines(out))
    sys.stderr.write(f"gateway-audit: following from index {follower.next}\n")
    try:
        return _loop(follower, sink, args)
    except KeyboardInterrupt:
        return 0
    finally:
        sink.close()


def _loop(follower: Follower, sink: _Lines | SyslogSender, args: argparse.Namespace) -> int:
    failing = False
    while True:
        try:
            batch = follower.poll()
        except VerificationError:
            raise
        except AuditError as exc:  # the source is away: say so once, then keep trying
            if args.once:
                raise
            if not failing:
                sys.stderr.write(f"gateway-audit: {exc}; retrying every {args.interval:g} s\n")
            failing = True
            time.sleep(args.interval)
            continue
        if failing:
            sys.stderr.write("gateway-audit: the source is back\n")
            failing = False
        if batch and not sink.send(batch):
            if args.once:
                raise AuditError("the syslog receiver cannot be reached")
            sys.stderr.write(f"gateway-audit: the syslog receiver is away; resending from {batch[0].index}\n")
            time.sleep(args.interval)
            continue
        if batch:
            follower.delivered(batch[-1].index + 1)
            if args.syslog:
                sys.stderr.write(f"gateway-audit: delivered up to index {batch[-1].index}\n")
        if args.once:
            return 0
        time.sleep(args.interval)
