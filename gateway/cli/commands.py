"""The operator's CLI: ``gateway keys|serve|apikey|tenant|privacy ...``.

Every command prints what it did; secrets are printed only where they are the point (a new API key, shown once,
alone on the last stdout line).
"""

from __future__ import annotations

import argparse
import errno
import logging
import socket
import sqlite3
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gateway.cli.apikeys import add_commands as add_apikey_commands
from gateway.cli.common import offline_auditor as _offline_auditor
from gateway.cli.common import operator
from gateway.cli.migrate import add_commands
from gateway.cli.policy_check import add_commands as add_policy_commands
from gateway.cli.privacy import add_ledger_commands
from gateway.cli.retention import add_commands as add_retention_commands
from gateway.cli.usage import add_commands as add_usage_commands
from gateway.errors import ConfigurationError, DatabaseUnavailable, GatewayError
from gateway.observability.logs import QUIET_LIBRARIES, configure_logging
from gateway.settings import Settings, load_settings, unknown_environment

if TYPE_CHECKING:
    from gateway.crypto.kek import KekProvider


def _keys_init(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.crypto.kek import init_kek
    from gateway.crypto.keyfiles import init_keys

    created: list[object] = list(init_keys(settings.keys_dir, kek=settings.kek_options))
    if not settings.kek_options.in_file:
        in_token = init_kek(settings.keys_dir, settings.kek_options)
        created += [in_token] if in_token is not None else []
    for path in created:
        print(f"created {path}")
    if not created:
        print(f"keys already present in {settings.keys_dir}")
    return 0


def _offline_store(settings: Settings):  # type: ignore[no-untyped-def]
    from gateway.backends.sqlite.connection import SQLiteDatabase
    from gateway.backends.sqlite.datakeys import SQLiteDataKeyRepository
    from gateway.backends.sqlite.store import SQLiteStore
    from gateway.crypto.envelope import Envelope
    from gateway.crypto.keyfiles import load_keys

    if settings.uses_postgres:
        from gateway.backends.postgres.open import open_pg_backends
        from gateway.backends.postgres.store import PostgresStore

        pg = open_pg_backends(settings)
        pg_envelope = Envelope(load_keys(settings.keys_dir, settings.kek_options).kek, pg.datakeys)
        return pg_envelope, PostgresStore(pg.db, pg_envelope, on_close=pg.close)
    db = SQLiteDatabase(settings.sqlite_path)
    envelope = Envelope(load_keys(settings.keys_dir, settings.kek_options).kek, SQLiteDataKeyRepository(db))
    return envelope, SQLiteStore(settings.data_dir, envelope, db)


def _keys_rotate(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.cli.runlock import ensure_no_replica, ensure_not_serving
    from gateway.crypto.kek import new_kek_version

    ensure_not_serving(settings.data_dir, "KEK rotation", "`POST /v1/admin/keys/rotate` (per tenant)")
    if settings.uses_postgres:  # docs/encryption.md, "Rotation": a replica left running fails every write after
        ensure_no_replica(settings.database_url.reveal(), "KEK rotation", "`POST /v1/admin/keys/rotate` (per tenant)")
    log, auditor = _offline_auditor(settings)
    try:
        version = new_kek_version(settings.keys_dir, settings.kek_options)
        envelope, store = _offline_store(settings)
        try:
            # Audited before any data key changes: a rotation killed midway (its entry came at the end) left a KEK
            # version, and data keys wrapped under it, that no entry named. A missing `key.rewrap` after it says the
            # re-wrap did not finish; run the command again.
            actor = operator()
            auditor.record_sync("key.rotate", "allow", actor=actor, tenant="*", kek_version=version,
                                tenants=len(envelope.key_tenants()))
            rotated = envelope.rotate_all()
            rewrapped = envelope.rewrap_all() if args.rewrap else 0
            if args.rewrap:
                auditor.record_sync("key.rewrap", "allow", actor=actor, tenant="*", kek_version=version,
                                    count=rewrapped)
        finally:
            store.close()
    finally:
        log.close()
    print(f"KEK version {version} is active; {len(rotated)} tenant data keys rotated for new writes")
    if args.rewrap:
        print(f"{rewrapped} data keys re-wrapped under KEK version {version}")
    return 0


def _keys_retire(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.cli.runlock import ensure_not_serving
    from gateway.crypto.kek import retire_kek_version

    ensure_not_serving(settings.data_dir, "retiring a KEK version", "a maintenance window")
    envelope, store = _offline_store(settings)
    try:
        in_use = envelope.kek_versions_in_use()
    finally:
        store.close()  # after the read: on PostgreSQL it closes the pool the data keys are read through
    if args.version in in_use:
        print(f"KEK version {args.version} still wraps data keys; run `gateway keys rotate --rewrap` first",
              file=sys.stderr)
        return 1
    retire_kek_version(settings.keys_dir, settings.kek_options, args.version)
    log, auditor = _offline_auditor(settings)
    try:
        auditor.record_sync("key.rotate", "allow", actor=operator(), tenant="*", retired_kek_version=args.version)
    finally:
        log.close()
    print(f"KEK version {args.version} retired")
    return 0


def _tenant_shred(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.auth.apikeys import validate_name
    from gateway.cli.retention import background_stores
    from gateway.cli.runlock import ensure_no_replica, ensure_not_serving
    from gateway.jobs.base import forget_tenant

    instead = "`POST /v1/admin/tenant/shred` with an admin key"
    ensure_not_serving(settings.data_dir, "shredding", instead)
    if settings.uses_postgres:
        ensure_no_replica(settings.database_url.reveal(), "shredding", instead)
    validate_name("tenant", args.tenant)  # a tenant's name as keys and tokens have it; the entry keeps it for ever
    if args.confirm != args.tenant:
        print(f"refusing: pass --confirm {args.tenant} to destroy every key of tenant {args.tenant}", file=sys.stderr)
        return 2
    log, auditor = _offline_auditor(settings)
    envelope, store = _offline_store(settings)
    try:
        names = [c.name for c in store.list_collections(args.tenant)]
        if not names and not envelope.holds_keys(args.tenant):  # a mistyped name must not read as a shred done
            return _finish_interrupted_shred(settings, auditor, args.tenant)
        _forget_drift(settings, envelope, args.tenant, names)  # before the shred, whose WAL checkpoint clears it
        forgotten = store.shred_tenant(args.tenant)
        forget_tenant(*background_stores(settings), args.tenant)  # its files and jobs, which no key opens now
        _rename_ledger_scopes(settings, args.tenant, names)
        auditor.record_sync("tenant.shred", "allow", actor=operator(), tenant=args.tenant, count=forgotten)
    finally:
        store.close()
        log.close()
    print(f"tenant {args.tenant} shredded: data keys destroyed, {forgotten} chunks unreadable and forgotten")
    return 0


def _finish_interrupted_shred(settings: Settings, auditor: Any, tenant: str) -> int:
    """A tenant without data key or collection: nothing to shred, or a shred that stopped after destroying the keys
    (a crash before the jobs' deletion), whose files, jobs and staged inputs are left, unreadable: deleted now and
    audited, so that running the command again completes it. Exit status 1 when there was nothing."""
    from gateway.cli.retention import background_stores
    from gateway.jobs.base import forget_tenant

    left = forget_tenant(*background_stores(settings), tenant)
    if not any(left.values()):
        print(f"nothing to shred: tenant {tenant} has no data key and no collection here (check the name; "
              "`gateway apikey list` shows the tenants of the keys); nothing was changed", file=sys.stderr)
        return 1
    auditor.record_sync("tenant.shred", "allow", actor=operator(), tenant=tenant, count=0, completed=left)
    print(f"tenant {tenant}: an interrupted shred completed (its data keys were already destroyed): "
          f"{left['jobs']} jobs and {left['files']} files deleted")
    return 0


def _forget_drift(settings: Settings, envelope: Any, tenant: str, names: list[str]) -> None:
    """The drift rows naming the tenant's collections (the running gateway's shred clears them too)."""
    from gateway.backends.sqlite.connection import SQLiteDatabase
    from gateway.backends.sqlite.drift import SQLiteDriftRepository

    drift = SQLiteDriftRepository(SQLiteDatabase(settings.sqlite_path), envelope)
    for name in names:
        drift.forget(tenant, name)


def _rename_ledger_scopes(settings: Settings, tenant: str, names: list[str]) -> None:
    """The privacy ledger keeps the shredded tenant's spend under random scope labels, not collection names."""
    from gateway.backends.sqlite.ledger import SQLitePrivacyLedger
    from gateway.pipeline.admin import shredded_scope

    if settings.uses_postgres:
        from gateway.backends.postgres.open import open_pg_backends

        pg = open_pg_backends(settings)
        try:
            for name in names:
                pg.ledger.rename_scope(tenant, name, shredded_scope())
        finally:
            pg.close()
        return
    ledger = SQLitePrivacyLedger(settings.data_dir / "privacy.db")
    try:
        for name in names:
            ledger.rename_scope(tenant, name, shredded_scope())
    finally:
        ledger.close()


def _privacy_calibrate(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.privacy.calibrate import load_curve, pick_sigma

    curve = load_curve()
    sigma = pick_sigma(curve, args.target_f1)
    print("measured curve (bench/inversion.py): sigma, bag-of-words inversion F1, recall@10 vs clean")
    for point in curve:
        print(f"  {point.sigma:<8g} {point.bow_f1:.3f} {point.recall_at_10:.3f}")
    print(f"least noise with an inversion F1 of at most {args.target_f1}: sigma = {sigma:g}")
    scope = f"tenants.{args.tenant}" + (f".collections.{args.collection}" if args.collection else "") \
        if args.tenant else "defaults"
    print(f"set it in policy/gateway.yaml under {scope}:")
    print(f"  noise:\n    sigma: {sigma:g}")
    return 0


def _db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.uses_postgres:
        print("database_url does not name PostgreSQL; the embedded database needs no upgrade", file=sys.stderr)
        return 2
    from gateway.backends.postgres.connection import PgDatabase
    from gateway.backends.postgres.open import prepare_database

    db = PgDatabase(settings.database_url.reveal(), max_size=1)
    try:
        applied, seeded = prepare_database(db, settings)
    finally:
        db.close()
    print(f"schema migrations applied: {applied or 'none (up to date)'}; Casbin rules seeded: {seeded}")
    return 0


def ensure_bindable(host: str, port: int) -> None:
    """Fail before the slow start (model, PII detector) and before any "listening" line if the address is taken.

    Binds as uvicorn will (SO_REUSEADDR, which on Linux still refuses a port another socket listens on).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigurationError(f"{host}:{port} is already in use") from None
            raise ConfigurationError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def check_stored_kek(settings: Settings, kek: KekProvider) -> None:
    """Refuse a KEK that opens none of the embedded database's data keys of some KEK version (``Envelope.check_kek``)
    before the model and the PII detector load, instead of after them (about 15 s of loading, longer under load).
    On PostgreSQL the check runs once the schema is upgraded, in ``build_services`` (which checks on both)."""
    if settings.uses_postgres or not settings.sqlite_path.exists():
        return  # a new data dir holds no data key yet
    from gateway.backends.sqlite.datakeys import SQLiteDataKeyRepository
    from gateway.crypto.envelope import Envelope

    conn = sqlite3.connect(settings.sqlite_path, timeout=30.0, isolation_level=None)
    try:
        Envelope(kek, SQLiteDataKeyRepository(lambda: conn)).check_kek()
    finally:
        conn.close()


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.cli.runlock import hold
    from gateway.crypto.keyfiles import check_hmac_root, load_keys

    # Refuse to start without keys (or with a wrong HSM PIN or token, or a KEK that opens none of the stored data
    # keys), before importing anything heavy.
    for warning in unknown_environment():
        print(f"warning: {warning}", file=sys.stderr)
    keys = load_keys(settings.keys_dir, settings.kek_options)
    lock = hold(settings.data_dir)  # noqa: F841 - held for the life of the process
    ensure_bindable(settings.host, settings.port)
    check_stored_kek(settings, keys.kek)
    check_hmac_root(keys, settings.data_dir)

    import uvicorn

    configure_logging(settings.log_level)  # JSON lines on stderr, scrubbed of secrets and PII
    print(f"loading model and PII detector (policy {settings.policy_dir}, data {settings.data_dir}) ...",
          file=sys.stderr)
    if settings.workers > 1:  # each worker process builds its own services (gateway.http.asgi)
        print(f"gateway listening on http://{settings.host}:{settings.port}; starting {settings.workers} worker "
              "processes, each loading its own model", file=sys.stderr)
        uvicorn.run("gateway.http.asgi:app", factory=True, workers=settings.workers, host=settings.host,
                    port=settings.port, log_level="warning", access_log=False)
        return 0
    from gateway.http.asgi import build_app

    app = build_app(settings)
    print(f"gateway listening on http://{settings.host}:{settings.port}", file=sys.stderr)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description="Governed embedding gateway")
    sub = parser.add_subparsers(dest="command", required=True)

    keys = sub.add_parser("keys", help="key material").add_subparsers(dest="keys_command", required=True)
    keys.add_parser("init", help="create missing keys (KEK in kek.json or the HSM, audit signing key, HMAC root)"
                    ).set_defaults(func=_keys_init)

    rotate = keys.add_parser("rotate", help="new KEK version and new tenant data keys for new writes")
    rotate.add_argument("--rewrap", action="store_true", help="also re-wrap old data keys under the new KEK")
    rotate.set_defaults(func=_keys_rotate)

    retire = keys.add_parser("retire", help="remove an old KEK version that no data key is wrapped under")
    retire.add_argument("version", type=int)
    retire.set_defaults(func=_keys_retire)

    tenant = sub.add_parser("tenant", help="tenants").add_subparsers(dest="tenant_command", required=True)
    shred = tenant.add_parser("shred", help="crypto-shred a tenant: destroy its data keys")
    shred.add_argument("tenant")
    shred.add_argument("--confirm", required=True, help="the tenant's name again")
    shred.set_defaults(func=_tenant_shred)

    privacy = sub.add_parser("privacy", help="privacy tools").add_subparsers(dest="privacy_command", required=True)
    calibrate = privacy.add_parser("calibrate", help="pick a noise sigma from the measured attack curve")
    calibrate.add_argument("--target-f1", type=float, required=True,
                           help="highest acceptable bag-of-words inversion F1 (docs/privacy.md)")
    calibrate.add_argument("--tenant")
    calibrate.add_argument("--collection")
    calibrate.set_defaults(func=_privacy_calibrate)
    add_ledger_commands(privacy)  # accept-ledger

    db = sub.add_parser("db", help="the PostgreSQL database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply schema migrations and seed the Casbin rules").set_defaults(func=_db_upgrade)

    serve = sub.add_parser("serve", help="run the gateway")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=_serve)

    add_apikey_commands(sub)  # create, revoke, list, rotate
    add_commands(sub)  # models list, collections migrate
    add_retention_commands(sub)  # retention sweep
    add_policy_commands(sub)  # policy check
    add_usage_commands(sub)  # usage --tenant T --since D
    return parser


# Loggers whose INFO lines speak to a server's operator: an audited command (apikey create, keys rotate, usage)
# printed "this process now signs audit checkpoints" above its own output.
SERVER_NOTICES = ("audit.sqlite_log", "audit.pg_log")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # httpx logs every request at INFO (between the ingest progress bar's lines) and FAISS every CPU build it could
    # not load: noise to an operator, as in the server's logs.
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    if args.command != "serve":  # which process signs checkpoints matters among a server's workers, not in a command
        for name in SERVER_NOTICES:
            logging.getLogger(name).setLevel(logging.WARNING)
    try:
        overrides = {k: v for k, v in (("host", getattr(args, "host", None)),
                                       ("port", getattr(args, "port", None))) if v is not None}
        settings = load_settings(**overrides)
        return int(args.func(settings, args))
    except DatabaseUnavailable as exc:  # a caller is told to try again; an operator, what to check
        from gateway.backends.postgres.connection import connection_problem

        problem = exc.problem or connection_problem(settings.database_url.reveal())
        print("error: the PostgreSQL database that database_url names could not be reached in time: "
              + (problem or "it answers now; it was down or busy a moment ago, try again"), file=sys.stderr)
        return 2
    except GatewayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
