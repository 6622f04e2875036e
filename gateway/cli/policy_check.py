"""``gateway policy check [--dir DIR]``: the policy files checked as the gateway checks them, without a gateway.

A policy author (or a CI job on the repository that holds the policy) runs it before a change is deployed: each
file is loaded by the same code a start or a hot reload uses, so what passes here is what the gateway takes, and
what fails names the file and line. Every file is checked even when one fails; the exit status is 0 when all pass
and 2 otherwise. Nothing is written and nothing is audited: the files are read only.

It checks ``gateway.yaml`` (PII actions, recognizers, quotas, retention: ``docs/policy.md``), ``model.conf`` with
``policy.csv`` (the Casbin rules) and ``models.yaml`` (the model registry, with the ``model_name`` setting's choice).
It does not check what only a running gateway can: the spaCy pipeline setting, the remote engines' reachability,
or, on PostgreSQL, the ``casbin_rule`` table the replicas read (``gateway db upgrade`` seeds it from policy.csv).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from gateway.errors import GatewayError
from gateway.settings import Settings

Check = Callable[[Path], str]  # policy directory -> a summary of what was found; raises GatewayError when wrong


def _gateway_yaml(directory: Path) -> str:
    from gateway.policy.loader import load_policy

    policy = load_policy(directory / "gateway.yaml")
    scopes = policy.all_scopes()
    tenants = sum(1 for tenant, collection, _ in scopes if tenant is not None and collection is None)
    collections = sum(1 for _, collection, _ in scopes if collection is not None)
    return (f"version {policy.version}; {tenants} tenant(s), {collections} collection(s), "
            f"{len(policy.recognizers)} custom recognizer(s), {len(policy.entity_types())} entity type(s) acted on")


def _casbin(directory: Path) -> str:
    from gateway.auth.authz import Authorizer

    rules, bindings = Authorizer(directory).rules()
    domains = sorted({rule[1] for rule in rules if len(rule) > 1})
    return f"{len(rules)} rule(s), {len(bindings)} role binding(s); domains: {', '.join(domains)}"


def _models(directory: Path, model_name: str) -> str:
    from gateway.embedding.registry import FILE_NAME, declared_models, load_registry

    specs, retired = declared_models(directory)
    served = load_registry(directory, model_name).all()
    present = "" if (directory / FILE_NAME).exists() else "no file, the packaged model only: "
    return (f"{present}{len(specs)} version(s) declared, {len(retired)} retired; served: "
            f"{', '.join(spec.ref for spec in served)}")


def check(directory: Path, model_name: str) -> list[tuple[str, str, bool]]:
    """(file, what was found or what is wrong, passed) for each policy file of ``directory``."""
    checks: list[tuple[str, Check]] = [
        ("gateway.yaml", _gateway_yaml),
        ("policy.csv", _casbin),
        ("models.yaml", lambda d: _models(d, model_name)),
    ]
    results: list[tuple[str, str, bool]] = []
    for name, run in checks:
        try:
            results.append((name, run(directory), True))
        except GatewayError as exc:
            results.append((name, str(exc), False))
        except OSError as exc:  # a file missing or unreadable: named, without a traceback
            results.append((name, f"{exc.filename or directory}: cannot read ({exc.strerror or type(exc).__name__})",
                            False))
    return results


def _check(settings: Settings, args: argparse.Namespace) -> int:
    directory = Path(args.dir) if args.dir else settings.policy_dir
    if not directory.is_dir():
        print(f"error: {directory} is not a directory (the policy directory holds gateway.yaml, model.conf, "
              "policy.csv and, optionally, models.yaml)", file=sys.stderr)
        return 2
    results = check(directory, settings.model_name)
    width = max(len(name) for name, _, _ in results)
    for name, detail, passed in results:
        print(f"{name.ljust(width)}  {'ok   ' if passed else 'ERROR'}  {detail}")
    if all(passed for _, _, passed in results):
        print(f"policy in {directory}: every file passes")
        return 0
    print(f"policy in {directory}: {sum(not p for _, _, p in results)} file(s) would be refused")
    return 2


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    policy = sub.add_parser("policy", help="the policy files").add_subparsers(dest="policy_command", required=True)
    check_cmd = policy.add_parser("check", help="check gateway.yaml, policy.csv and models.yaml as the gateway would")
    check_cmd.add_argument("--dir", help="the policy directory to check (default: the gateway's, GATEWAY_POLICY_DIR)")
    check_cmd.set_defaults(func=_check)
