"""The commands in docs/audit.md are accepted, exactly as written, by the CLI's parser."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from audit.cli import _parser

DOC = Path(__file__).resolve().parents[3] / "docs" / "audit.md"
COMMANDS = [line for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith("gateway-audit ")]


def test_when_reading_the_auditor_guide_then_it_shows_every_subcommand() -> None:
    assert {shlex.split(c)[1] for c in COMMANDS} == {"export", "verify", "report"}


@pytest.mark.parametrize("command", COMMANDS)
def test_when_parsing_a_documented_command_then_the_cli_accepts_it(command: str) -> None:
    _parser().parse_args(shlex.split(command)[1:])
