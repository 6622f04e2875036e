"""``gateway policy check``: the policy files checked by the code a start uses, every file reported, exit 2 when
one would be refused; nothing written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway.cli.commands import main

SHIPPED = Path(__file__).resolve().parents[3] / "policy"


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    shutil.copytree(SHIPPED, tmp_path / "policy")
    (tmp_path / "policy" / "models.yaml").unlink(missing_ok=True)
    return tmp_path / "policy"


def _check(directory: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["policy", "check", "--dir", str(directory)])
    return code, capsys.readouterr().out.splitlines()


def test_when_the_shipped_policy_is_checked_then_every_file_passes_and_nothing_is_written(
    policy_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sorted((p.name, p.stat().st_mtime_ns) for p in policy_dir.iterdir())
    code, lines = _check(policy_dir, capsys)
    assert code == 0, lines
    assert [line.split()[:2] for line in lines[:3]] == [["gateway.yaml", "ok"], ["policy.csv", "ok"],
                                                        ["models.yaml", "ok"]]
    assert "1 tenant(s), 1 collection(s), 2 custom recognizer(s)" in lines[0]
    assert "served: all-MiniLM-L6-v2@1.0.0" in lines[2] and lines[3].endswith("every file passes")
    assert sorted((p.name, p.stat().st_mtime_ns) for p in policy_dir.iterdir()) == before


def test_when_every_file_has_a_mistake_then_each_is_named_with_its_line_and_the_exit_is_2(
    policy_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    yaml_path = policy_dir / "gateway.yaml"
    text = yaml_path.read_text()
    line = text.splitlines().index("      PERSON: redact") + 1
    yaml_path.write_text(text.replace("      PERSON: redact\n", "      PERSN: redact\n"))
    with (policy_dir / "policy.csv").open("a") as fh:
        fh.write("p, reader, acme, embeddings\n")
    rules = len((policy_dir / "policy.csv").read_text().splitlines())
    (policy_dir / "models.yaml").write_text("models:\n  - name: x\n    version: 1.0.0\n    colour: blue\n")
    code, lines = _check(policy_dir, capsys)
    assert code == 2
    assert lines[0].split()[:2] == ["gateway.yaml", "ERROR"] and f"gateway.yaml:{line}: unknown entity type" in lines[0]
    assert lines[1].split()[:2] == ["policy.csv", "ERROR"] and f"policy.csv:{rules}: a p rule has 4 fields" in lines[1]
    assert lines[2].split()[:2] == ["models.yaml", "ERROR"] and "models.yaml:2: models[0]: unknown keys" in lines[2]
    assert lines[3].endswith("3 file(s) would be refused")


def test_when_the_casbin_files_are_missing_then_that_is_named_and_the_others_are_still_checked(
    policy_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (policy_dir / "model.conf").unlink()
    code, lines = _check(policy_dir, capsys)
    assert code == 2 and lines[0].split()[1] == "ok" and lines[2].split()[1] == "ok"
    assert "model.conf" in lines[1] and "cannot load Casbin policy (FileNotFoundError)" in lines[1]


def test_when_the_directory_does_not_exist_then_the_error_says_what_it_should_hold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["policy", "check", "--dir", str(tmp_path / "nowhere")]) == 2
    assert "is not a directory (the policy directory holds gateway.yaml" in capsys.readouterr().err
