"""The two backends mirror each other file for file, never import each other, and only the composition root
(``gateway/bootstrap.py``) and the CLI reach into them; every other package talks to the interfaces."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
BACKENDS = REPO / "gateway" / "backends"
SQLITE, POSTGRES = BACKENDS / "sqlite", BACKENDS / "postgres"
# Each documented in its package's docstring: what the other backend has no counterpart for.
POSTGRES_ONLY = {"casbin", "migrations"}
SQLITE_ONLY = {"drift", "migration_state"}
# The composition root and the CLI (which opens a backend for offline commands) may name concrete adapters.
MAY_IMPORT_BACKENDS = {Path("gateway/bootstrap.py")}
MAY_IMPORT_BACKENDS_UNDER = (Path("gateway/backends"), Path("gateway/cli"))
# Modules other helpers of issue 20 are rewriting; each entry goes when that work merges. Empty on this branch.
KNOWN_OFFENDERS: set[Path] = set()


def _imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth (imports inside functions count), as absolute names."""
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    return _imports_in(path.read_text(encoding="utf-8"), package)


def _imports_in(source: str, package: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against the importing module's package
                parts = package.split(".")
                parent = parts[: len(parts) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}
    return names


def _modules(package: Path) -> set[str]:
    return {p.stem for p in package.glob("*.py") if p.stem != "__init__"}


def _sources(*roots: str) -> list[Path]:
    return sorted(p for root in roots for p in (REPO / root).rglob("*.py"))


@pytest.mark.parametrize(("package", "other"), [(SQLITE, "gateway.backends.postgres"),
                                                 (POSTGRES, "gateway.backends.sqlite")], ids=["sqlite", "postgres"])
def test_when_scanning_a_backend_then_it_never_imports_the_other(package: Path, other: str) -> None:
    crossing = {
        f"{path.name}: {name}"
        for path in sorted(package.glob("*.py"))
        for name in _imported_modules(path)
        if name == other or name.startswith(other + ".")
    }
    assert not crossing


def test_when_listing_the_backends_then_each_module_has_its_sibling_but_the_documented_ones() -> None:
    sqlite, postgres = _modules(SQLITE), _modules(POSTGRES)
    assert sqlite - SQLITE_ONLY == postgres - POSTGRES_ONLY
    assert postgres >= POSTGRES_ONLY and not POSTGRES_ONLY & sqlite
    assert sqlite >= SQLITE_ONLY and not SQLITE_ONLY & postgres
    assert {"apikeys", "connection", "datakeys", "ledger", "open", "store", "store_rows"} <= sqlite & postgres


@pytest.mark.parametrize(("package", "only"), [(SQLITE, SQLITE_ONLY), (POSTGRES, POSTGRES_ONLY)],
                         ids=["sqlite", "postgres"])
def test_when_a_module_has_no_sibling_then_its_package_docstring_says_so(package: Path, only: set[str]) -> None:
    docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text(encoding="utf-8"))) or ""
    assert {name for name in only if f"``{name}``" not in docstring} == set()


def test_when_an_import_is_relative_or_inside_a_function_then_the_scan_still_sees_it() -> None:
    source = "def f():\n    from ..postgres import connection\n    from . import store\n"
    found = _imports_in(source, "gateway.backends.sqlite")
    assert {"gateway.backends.postgres.connection", "gateway.backends.sqlite.store"} <= found
    assert "gateway.backends.postgres.connection" in _imported_modules(REPO / "gateway" / "cli" / "commands.py")


def _may_import_backends(relative: Path) -> bool:
    return relative in MAY_IMPORT_BACKENDS or any(relative.is_relative_to(p) for p in MAY_IMPORT_BACKENDS_UNDER)


def test_when_scanning_the_packages_then_only_the_composition_root_and_the_cli_import_a_backend() -> None:
    importers = {
        path.relative_to(REPO)
        for path in _sources("gateway", "audit")
        if not _may_import_backends(path.relative_to(REPO))
        and any(n == "gateway.backends" or n.startswith("gateway.backends.") for n in _imported_modules(path))
    }
    assert importers == KNOWN_OFFENDERS
