"""The audit package stands alone: stdlib, cryptography and rfc8785 only, and never the gateway."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[3] / "audit"
ALLOWED = {"audit", "cryptography", "rfc8785"}


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
    foreign = {n for n in _imports(path) if n not in ALLOWED and n not in sys.stdlib_module_names}
    assert not foreign, f"{path.name} imports {foreign}"
