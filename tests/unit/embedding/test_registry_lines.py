"""``models.yaml`` errors name the file's line, as the policy file's do: an operator with several models declared
finds the wrong one without counting list items."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.embedding.registry import declared_models
from gateway.errors import ConfigurationError

GOOD = """\
models:
  - name: minilm-remote
    version: 1.0.0
    dimension: 384
    engine: {kind: openai, base_url: http://10.0.0.5:8080/v1, model: m}
"""


def _declared(tmp_path: Path, text: str) -> None:
    (tmp_path / "models.yaml").write_text(text, encoding="utf-8")
    declared_models(tmp_path)


@pytest.mark.parametrize(("text", "where"), [
    (GOOD + "  - name: other\n    version: 1.0\n    dimension: 384\n    fingerprint: x\n", ":6: models[1]"),
    (GOOD + "  - name: other\n    version: 1.0.0\n    colour: blue\n", ":6: models[1]: unknown keys ['colour']"),
    (GOOD + "  - just a string\n", ":6: models[1] must be a mapping"),
    (GOOD + GOOD.removeprefix("models:\n"), ":6: models[1] declares minilm-remote@1.0.0 twice"),
    (GOOD.replace("    dimension: 384\n", "    dimension: 384\n    dimension: 768\n"), ":5: duplicate key 'dimension'"),
    (GOOD.replace("model: m}", "model: m"), ":6: invalid YAML (expected ',' or '}'"),  # at the end
    ("model:\n  - name: x\n", ":1: expected a mapping with a 'models' list"),
])
def test_when_an_entry_is_wrong_then_the_error_names_its_line(tmp_path: Path, text: str, where: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        _declared(tmp_path, text)
    assert f"{tmp_path / 'models.yaml'}{where}" in str(caught.value)


def test_when_the_file_is_empty_or_declares_no_model_then_only_the_packaged_one_is_declared(tmp_path: Path) -> None:
    for text in ("", "\n  \n", "models: []\n"):
        (tmp_path / "models.yaml").write_text(text, encoding="utf-8")
        specs, retired = declared_models(tmp_path)
        assert [s.name for s in specs] == ["all-MiniLM-L6-v2"] and not retired


def test_when_the_file_is_not_utf8_then_the_error_says_so_on_its_first_line(tmp_path: Path) -> None:
    (tmp_path / "models.yaml").write_bytes(b"models:\n  - name: caf\xe9\n")
    with pytest.raises(ConfigurationError, match=r"models\.yaml:1: the model registry is not UTF-8"):
        declared_models(tmp_path)
