"""``gateway-audit witness init|serve`` and ``gateway-audit prove``, and the ``--witness-key`` checks of ``verify``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TextIO

from audit.cosign import WitnessKey, parse_vkey, require_quorum
from audit.errors import AuditError
from audit.keys import Ed25519PublicKey, load_public_key
from audit.prove import describe, prove_receipt
from audit.remote import GatewayClient
from audit.witness import Witness, init_witness
from audit.witness_server import WitnessServer

COMMANDS = ("witness", "prove")


def add_witness_options(cmd: argparse.ArgumentParser) -> None:
    """``--witness-key`` (repeatable) and ``--witness-quorum`` for commands that check a checkpoint."""
    cmd.add_argument("--witness-key", action="append", default=[], metavar="VKEY",
                     help="a witness's verifier key (or a file holding it); repeat for several")  # fmt: skip
    cmd.add_argument("--witness-quorum", type=int, metavar="K",
                     help="valid cosignatures required (default: every --witness-key)")  # fmt: skip


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``witness`` and ``prove`` subcommands."""
    w = sub.add_parser("witness", help="run a witness that cosigns the gateway's checkpoints (C2SP tlog-witness)")
    wsub = w.add_subparsers(dest="witness_command", required=True)
    init = wsub.add_parser("init", help="make a witness key and print its verifier key")
    init.add_argument("--dir", type=Path, required=True, help="the witness's folder (key and state)")
    init.add_argument("--name", required=True, help="the witness's name, e.g. witness.auditor.example/w1")
    serve = wsub.add_parser("serve", help="serve POST /add-checkpoint")
    serve.add_argument("--dir", type=Path, required=True)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, required=True)
    serve.add_argument("--log", action="append", required=True, metavar="ORIGIN=PUBKEY_FILE",
                       help="a log to witness: its origin and its audit public key (PEM); repeatable")  # fmt: skip
    prove = sub.add_parser("prove", help="prove one audit entry (a receipt) is in the signed log")
    prove.add_argument("--url", required=True, help="the gateway's base URL")
    prove.add_argument("--api-key", required=True, help="an API key of the entry's tenant, or an auditor's")
    prove.add_argument("--index", type=int, required=True, help="the entry's index (X-Gateway-Audit-Index)")
    prove.add_argument("--public-key", type=Path, required=True, help="audit public key (PEM)")
    prove.add_argument("--origin", help="require this checkpoint origin")
    prove.add_argument("--previous", type=Path, help="a checkpoint kept earlier that the log must extend")
    prove.add_argument("--checkpoint-out", type=Path, help="keep the checkpoint for later --previous checks")
    add_witness_options(prove)


def witness_keys(args: argparse.Namespace) -> tuple[list[WitnessKey], int]:
    """The ``--witness-key`` keys and the quorum they must reach."""
    keys = []
    for value in args.witness_key:
        path = Path(value)
        text = path.read_text(encoding="utf-8") if "+" not in value and path.is_file() else value
        keys.append(parse_vkey(text))
    quorum = len(keys) if args.witness_quorum is None else args.witness_quorum
    if args.witness_quorum is not None and not keys:
        raise AuditError("--witness-quorum needs at least one --witness-key")
    if not 0 <= quorum <= len(keys):
        raise AuditError(f"--witness-quorum must be between 0 and the number of --witness-key ({len(keys)})")
    return keys, quorum


def check_witnesses(args: argparse.Namespace, checkpoint: str) -> str:
    """Require the quorum of cosignatures on ``checkpoint``; a line for the OK message ('' without witnesses)."""
    keys, quorum = witness_keys(args)
    if not keys:
        return ""
    cosigned = require_quorum(checkpoint, keys, quorum)
    return f", cosigned by {len(cosigned)} of {len(keys)} witnesses ({quorum} required)"


def _parse_logs(values: list[str]) -> dict[str, Ed25519PublicKey]:
    logs: dict[str, Ed25519PublicKey] = {}
    for value in values:
        origin, sep, path = value.rpartition("=")
        if not sep or not origin or not path:
            raise AuditError(f"--log {value!r}: expected ORIGIN=PUBKEY_FILE")
        logs[origin] = load_public_key(Path(path))
    return logs


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Run ``witness`` or ``prove``."""
    if args.command == "prove":
        keys, quorum = witness_keys(args)
        previous = args.previous.read_text(encoding="utf-8") if args.previous else None
        receipt = prove_receipt(GatewayClient(args.url, args.api_key), args.index, load_public_key(args.public_key),
                                keys, quorum, previous, args.origin)  # fmt: skip
        if args.checkpoint_out:
            args.checkpoint_out.write_text(receipt.note, encoding="utf-8")
        out.write(describe(receipt, quorum))
        if args.checkpoint_out:
            out.write(f"  checkpoint kept in {args.checkpoint_out} (pass it as --previous next time)\n")
        return 0
    if args.witness_command == "init":
        key = init_witness(args.dir, args.name)
        out.write(f"{key.vkey()}\n")
        return 0
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    witness = Witness(args.dir, _parse_logs(args.log))
    server = WitnessServer((args.host, args.port), witness)
    out.write(f"witness {witness.key.name} serving POST http://{args.host}:{server.server_port}/add-checkpoint\n")
    out.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
