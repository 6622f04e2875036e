"""CLI commands of the model registry and migrations: ``gateway models list``, ``gateway models probe``,
``gateway models export-onnx``, ``gateway collections migrate``.

Kept apart from ``gateway.cli.commands`` so that module only registers them; ``gateway collections ingest`` (a
client of a running gateway) lives in ``gateway.cli.ingest``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
from typing import Any

from gateway.cli.common import ProgressBar
from gateway.cli.ingest import add_ingest_command
from gateway.settings import Settings


def _models_list(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.embedding.registry import declared_models, load_registry

    registry = load_registry(settings.policy_dir, settings.model_name)
    served = {s.ref for s in [registry.get(n) for n in registry.names()]}
    specs, retired = declared_models(settings.policy_dir)
    for s in specs:
        state = "retired" if s.ref in retired else ("served" if s.ref in served else "declared")
        print(f"{s.ref}  space {s.space}  dim {s.dimension}  {s.pooling}  "
              f"{'normalized' if s.normalized else 'raw'}  max_seq_length {s.max_seq_length}  {state}  "
              + (f"sha256 {s.fingerprint}" if s.engine is None else
                 f"engine {','.join(s.engine.hosts())}  {s.fingerprint or 'fingerprint recorded at registration'}"))
    return 0


def _models_probe(settings: Settings, args: argparse.Namespace) -> int:
    """Print the behavioural fingerprint a declared remote model's engine answers now, for pinning in models.yaml."""
    from gateway.embedding.engines import EngineClient
    from gateway.embedding.fingerprint import matches, probe
    from gateway.embedding.registry import declared_models
    from gateway.embedding.remote import RemoteEmbedder
    from gateway.errors import ConfigurationError

    specs, _ = declared_models(settings.policy_dir)
    name, _, version = args.name.partition("@")
    found = sorted((s for s in specs if s.name == name and (not version or version in (s.version, s.space))),
                   key=lambda s: tuple(int(p) for p in s.version.split(".")))
    if not found or found[-1].engine is None:
        raise ConfigurationError(f"{args.name!r} is not a declared remote model (one with an engine: block)")
    spec = found[-1]
    assert spec.engine is not None
    remote = RemoteEmbedder(spec, EngineClient(spec.engine, spec.dimension, name=spec.name))
    try:
        fingerprint = probe(remote.raw)  # ModelUnavailable / UpstreamError: the CLI prints the message
    finally:
        remote.close()
    print(fingerprint)
    if not spec.fingerprint:
        return 0
    same = matches(spec.fingerprint, fingerprint)
    print(f"{spec.ref}: the pinned fingerprint {'matches' if same else 'DOES NOT match'}", file=sys.stderr)
    return 0 if same else 1


def _models_export_onnx(settings: Settings, args: argparse.Namespace) -> int:
    """Export (or find cached) and verify the ONNX graph of the in-process default model, as a first start would."""
    from gateway.embedding.embedder import SentenceTransformerEmbedder
    from gateway.embedding.onnx_runtime import load_graph
    from gateway.embedding.registry import load_registry
    from gateway.errors import ConfigurationError
    from gateway.pipeline.cpus import available_cpus

    spec = load_registry(settings.policy_dir, settings.model_name).get(settings.model_name.partition("@")[0])
    if spec.engine is not None:
        raise ConfigurationError(f"model {spec.ref} is served by a remote engine; only an in-process model runs on "
                                 "ONNX Runtime")
    torch_model = SentenceTransformerEmbedder(spec, "cpu", traced=False)  # the weights' sha256 verified here
    graph = load_graph(torch_model.model, spec, torch_model.fingerprint, settings.onnx_cache_root, available_cpus(),
                       progress=ProgressBar(f"ONNX graph of {spec.ref}"))
    print(f"{spec.ref}  {'exported' if graph.exported else 'cached'}  {graph.path}  sha256 {graph.sha256}  "
          f"worst cosine {graph.worst_cosine:.6f}")
    return 0


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.backends.sqlite.connection import SQLiteDatabase
    from gateway.backends.sqlite.migration_state import SQLiteMigrationState
    from gateway.bootstrap import build_services
    from gateway.cli.runlock import ensure_not_serving
    from gateway.errors import ConfigurationError
    from gateway.migration.migrate import Migrator, NoDetection

    if settings.uses_postgres:
        # The migration reads records through the Store, but keeps its resumable state in the embedded backend's
        # SQLite file, and its run lock guards one host's data directory, not every replica. Refused until its
        # state and lock live in the shared database.
        raise ConfigurationError("`gateway collections migrate` works on the embedded SQLite backend only; on "
                                 "PostgreSQL, create a collection bound to the new version and re-ingest into it")
    name, _, version = args.to.partition("@")
    if not version:
        print("error: --to needs MODEL@VERSION, e.g. all-MiniLM-L6-v2@1.1.0", file=sys.stderr)
        return 2
    target_settings = dataclasses.replace(settings, model_name=args.to)
    try:
        ensure_not_serving(settings.data_dir, "the switch", "--no-switch while it serves")
        may_switch = not args.no_switch
    except ConfigurationError:
        may_switch = False  # embed now while the gateway serves the old index; switch later
    services = build_services(target_settings, detector=NoDetection())
    try:
        target = services.registry.find(name, version)
        db = SQLiteDatabase(settings.sqlite_path)
        migrator = Migrator(services, SQLiteMigrationState(db, services.envelope),
                            progress=ProgressBar(f"migrating {args.name} to {target.ref}"))
        result = asyncio.run(migrator.run(args.tenant, args.name, target, stop_after=args.stop_after,
                                          may_switch=may_switch, drop_unretained=args.drop_unretained))
    finally:
        services.close()
    _report(result)
    return 0 if result.switched else 3


def _report(result: Any) -> None:
    print(f"collection {result.collection}: {result.done}/{result.total} records re-embedded for {result.target}"
          f" ({result.embedded_now} in this run)")
    if result.unretained_documents:
        print(f"{len(result.unretained_documents)} documents had no retained text and must be re-ingested:")
        for doc in result.unretained_documents:
            print(f"  {doc}")
    if result.switched:
        print(f"switched: collection {result.collection} is now bound to {result.target}")
    elif result.waiting:
        print(f"not switched yet: {result.waiting}")


def add_commands(sub: Any) -> None:
    models = sub.add_parser("models", help="the model registry").add_subparsers(dest="models_command",
                                                                                required=True)
    models.add_parser("list", help="declared models and embedding-space versions").set_defaults(func=_models_list)
    probe = models.add_parser("probe", help="print a remote model's behavioural fingerprint, for pinning")
    probe.add_argument("name", help="a declared remote model: NAME or NAME@VERSION")
    probe.set_defaults(func=_models_probe)
    models.add_parser("export-onnx", help="export the in-process model to ONNX under the data directory and check "
                      "it against PyTorch (model_runtime = onnx does this at first start)"
                      ).set_defaults(func=_models_export_onnx)
    collections = sub.add_parser("collections", help="collections").add_subparsers(dest="collections_command",
                                                                                   required=True)
    migrate = collections.add_parser("migrate", help="re-embed a collection under another model version")
    migrate.add_argument("name")
    migrate.add_argument("--tenant", required=True)
    migrate.add_argument("--to", required=True, help="MODEL@VERSION, a declared embedding-space version")
    migrate.add_argument("--stop-after", type=int, help="re-embed at most N records in this run, then stop")
    migrate.add_argument("--no-switch", action="store_true", help="re-embed only; switch in a later run")
    migrate.add_argument("--drop-unretained", action="store_true",
                         help="switch even if documents without retained text are left out")
    migrate.set_defaults(func=_migrate)
    add_ingest_command(collections)  # gateway collections ingest --dir DOCS
