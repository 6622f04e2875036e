"""The layout holds: the HTTP layer talks to use cases only, audit/ stands alone, modules stay small.

Read from the source (AST), like ``tests/unit/audit/test_audit_dependencies.py``, so a violation fails here before
review: see ``docs/architecture.md`` for the tree these rules keep.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GATEWAY, AUDIT, HTTP = REPO / "gateway", REPO / "audit", REPO / "gateway" / "http"
MAX_LINES = 400
MAX_LOOSE_MODULES = 6
# Handlers parse, call one use case and serialize: storage, backends, keys and SQL are the use cases' business.
HTTP_FORBIDDEN = ("gateway.store", "gateway.backends", "gateway.crypto", "sqlite3", "psycopg", "psycopg_pool",
                  "faiss", "cryptography")
# Work that grows with the request leaves the event loop inside the use case, never in a handler.
HTTP_FORBIDDEN_CALLS = {"to_thread", "off_loop", "run_in_executor"}


def _modules(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def _imported(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{a.name}" for a in node.names)


def _called(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute):
                yield func.attr
            elif isinstance(func, ast.Name):
                yield func.id


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


@pytest.mark.parametrize("path", _modules(HTTP), ids=_rel)
def test_when_an_http_module_is_read_then_it_reaches_no_storage_backend_crypto_or_sql(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    reached = {n for n in _imported(tree) if any(_within(n, f) for f in HTTP_FORBIDDEN)}
    assert not reached, f"{_rel(path)} imports {sorted(reached)}: go through a use case (gateway/pipeline/)"


@pytest.mark.parametrize("path", _modules(HTTP), ids=_rel)
def test_when_an_http_module_is_read_then_it_never_moves_work_off_the_loop_itself(path: Path) -> None:
    calls = set(_called(ast.parse(path.read_text(encoding="utf-8")))) & HTTP_FORBIDDEN_CALLS
    assert not calls, f"{_rel(path)} calls {sorted(calls)}: the use case decides what leaves the event loop"


@pytest.mark.parametrize("path", _modules(AUDIT), ids=_rel)
def test_when_an_audit_module_is_read_then_it_never_imports_the_gateway(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert not [n for n in _imported(tree) if _within(n, "gateway")], f"{_rel(path)} imports the gateway"


@pytest.mark.parametrize("path", _modules(GATEWAY) + _modules(AUDIT), ids=_rel)
def test_when_a_module_is_read_then_it_has_at_most_400_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{_rel(path)} has {lines} lines: split it by responsibility"


def test_when_the_gateway_package_is_listed_then_at_most_six_modules_lie_loose_in_it() -> None:
    loose = sorted(p.name for p in GATEWAY.glob("*.py"))
    assert len(loose) <= MAX_LOOSE_MODULES, f"gateway/ has {len(loose)} loose modules: {loose}"
    assert all((p / "__init__.py").is_file() for p in GATEWAY.iterdir() if p.is_dir() and p.name != "__pycache__"
               and any(p.rglob("*.py")))


def test_when_the_rules_are_checked_then_they_see_the_modules_they_guard() -> None:
    # A rule over an empty list passes whatever the code does.
    assert len(_modules(HTTP)) >= 15 and len(_modules(AUDIT)) >= 20 and len(_modules(GATEWAY)) >= 100
