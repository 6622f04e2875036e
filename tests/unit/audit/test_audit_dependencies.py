"""The audit package stands alone: stdlib, cryptography and rfc8785 only, and never the gateway."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[3] / "audit"
ALLOWED = {"audit", "cryptography", "rfc8785"}
# The PostgreSQL log and reader use psycopg, imported inside functions only: an auditor who works from exported
# files never needs it installed (test_when_importing_the_cli_then_psycopg_is_not_needed checks the laziness).
OPTIONAL = {"pg_log.py": {"psycopg", "psycopg_pool"}, "pg_reader.py": {"psycopg", "psycopg_pool"},
            "follow_sources.py": {"psycopg"}}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_when_scanning_audit_module_then_it_imports_only_allowed_packages(path: Path) -> None:
    allowed = ALLOWED | OPTIONAL.get(path.name, set())
    foreign = {n for n in _imports(path) if n not in allowed and n not in sys.stdlib_module_names}
    assert not foreign, f"{path.name} imports {foreign}"


def _top_level_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("name", sorted(OPTIONAL))
def test_when_importing_the_cli_then_psycopg_is_not_needed(name: str) -> None:
    assert not _top_level_imports(PACKAGE / name) & OPTIONAL[name], f"{name} imports psycopg at module level"
