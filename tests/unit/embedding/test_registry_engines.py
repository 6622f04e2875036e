"""Remote models in ``models.yaml``: the ``engine:`` block parsed and checked, its key read from a file or the
environment and never printed, the audited model naming hosts only."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.embedding.registry import declared_models, model_json
from gateway.errors import ConfigurationError

REMOTE = """
models:
  - name: minilm-remote
    version: 1.0.0
    dimension: 384
    engine:
      kind: openai
      base_url: [http://10.0.0.5:8080/v1, "https://svc:pw@10.0.0.6:8443/v1"]
      model: sentence-transformers/all-MiniLM-L6-v2
      api_key_file: {key}
      timeout_s: 5
      max_batch: 32
"""


def _declare(tmp_path: Path, text: str) -> None:
    (tmp_path / "models.yaml").write_text(text)


def test_when_a_model_names_an_engine_then_its_spec_carries_it_and_the_audit_form_names_hosts_only(
    tmp_path: Path
) -> None:
    key = tmp_path / "tei-key"
    key.write_text("s3cret-engine-key\n")
    _declare(tmp_path, REMOTE.format(key=key))
    specs, _ = declared_models(tmp_path)
    remote = next(s for s in specs if s.name == "minilm-remote")
    assert remote.engine is not None and remote.engine.urls[0] == "http://10.0.0.5:8080/v1"
    assert remote.engine.api_key.reveal() == "s3cret-engine-key" and remote.engine.max_batch == 32
    shown = repr(remote) + str(model_json(remote))
    assert "s3cret" not in shown and "pw@" not in str(model_json(remote))
    assert model_json(remote)["engine"]["hosts"] == ["10.0.0.5:8080", "10.0.0.6:8443"]


@pytest.mark.parametrize(("engine", "match"), [
    ("engine: {kind: grpc, base_url: http://x/v1, model: m}", "kind"),
    ("engine: {kind: openai, base_url: ftp://x/v1, model: m}", "base_url"),
    ("engine: {kind: openai, base_url: http://x/v1, model: m, max_batch: 0}", "max_batch"),
    ("engine: {kind: openai, base_url: http://x/v1, model: m, api_key_env: NOT_SET_ANYWHERE_42}", "api_key_env"),
    # Regression: a typo ("max_bacth") was refused without naming it ("engine must be a mapping of [...]").
    ("engine: {kind: openai, base_url: http://x/v1, model: m, verify: false}", r"engine: unknown keys \['verify'\]"),
    ("engine: {kind: openai, base_url: http://x/v1, model: m, max_bacth: 8}", r"unknown keys \['max_bacth'\]"),
    ("engine: [openai]", "engine must be a mapping"),
    ("engine: {kind: openai, base_url: http://x/v1, model: m}\n    fingerprint: " + "a" * 64, "probe"),
])
def test_when_an_engine_block_is_wrong_then_the_registry_refuses_it(tmp_path: Path, engine: str, match: str) -> None:
    _declare(tmp_path, f"models:\n  - name: r\n    version: 1.0.0\n    dimension: 384\n    {engine}\n")
    with pytest.raises(ConfigurationError, match=match):
        declared_models(tmp_path)
