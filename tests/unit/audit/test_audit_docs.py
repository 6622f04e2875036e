"""The ``gateway-audit`` commands in the docs are accepted, exactly as written, by the CLI's parser, and name the
data directory the gateway really uses.

Parsing alone did not catch ``--data-dir var/data`` (the directory is ``var``): any path parses. So every
``--data-dir`` in a shell example must be the default of ``Settings.data_dir``, or a placeholder (``<dir>``, ``$DIR``).
"""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from audit.cli import _parser
from gateway.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
_COMMAND = re.compile(r"^\s*(?:\S*/)?gateway-audit\s")  # at the start of a line: an example, not prose


def _commands(doc: Path) -> list[str]:
    """The doc's example commands, continuation lines (``\\``) joined, without the program's path."""
    lines = iter(doc.read_text(encoding="utf-8").splitlines())
    out: list[str] = []
    for line in lines:
        if _COMMAND.match(line):
            command = line.strip()
            while command.endswith("\\"):
                command = command[:-1] + " " + next(lines, "").strip()
            out.append(re.sub(r"^\S*/gateway-audit", "gateway-audit", command))
    return out


def _names_another_data_dir(command: str) -> bool:
    data_dir = _parser().parse_args(shlex.split(command)[1:]).data_dir
    return data_dir is not None and not str(data_dir).startswith(("<", "$")) and data_dir != Settings().data_dir


COMMANDS = [(doc.name, command) for doc in DOCS for command in _commands(doc)]
AUDITOR_GUIDE = [command for name, command in COMMANDS if name == "audit.md"]


def test_when_reading_the_auditor_guide_then_it_shows_every_subcommand() -> None:
    subcommands = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert {shlex.split(c)[1] for c in AUDITOR_GUIDE} == set(subcommands)


@pytest.mark.parametrize(("doc", "command"), COMMANDS)
def test_when_parsing_a_documented_command_then_the_cli_accepts_it(doc: str, command: str) -> None:
    _parser().parse_args(shlex.split(command)[1:])


@pytest.mark.parametrize(("doc", "command"), [c for c in COMMANDS if "--data-dir" in c[1]])
def test_when_a_documented_command_names_a_data_dir_then_it_is_the_default_one(doc: str, command: str) -> None:
    assert not _names_another_data_dir(command), f"{doc}: {command}"


def test_when_an_example_names_var_data_then_the_data_dir_check_flags_it(tmp_path: Path) -> None:
    # Regression: docs/audit.md step 1 read `--data-dir var/data`; export failed with "no audit log at var/data".
    doc = tmp_path / "audit.md"
    doc.write_text("```\ngateway-audit export --data-dir var/data \\\n  --out log.jsonl --checkpoint-out cp.txt\n```\n")
    assert _commands(doc) == ["gateway-audit export --data-dir var/data  --out log.jsonl --checkpoint-out cp.txt"]
    assert _names_another_data_dir(_commands(doc)[0])
    assert not _names_another_data_dir("gateway-audit export --data-dir var --out l.jsonl --checkpoint-out cp.txt")
