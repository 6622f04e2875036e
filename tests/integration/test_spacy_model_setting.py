"""The spacy_model setting, tried at start as an operator (or someone with a foothold on the host) would: what is
loaded decides what is redacted, so a pipeline that cannot find names, one anyone may replace, or a name that
would run code is refused before anything loads, naming the setting (exit 2, no traceback)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from gateway.pii.spacy_pipeline import DEFAULT_SPACY_MODEL, pipeline_path
from tests.integration.server import BIN, GatewayProcess


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> GatewayProcess:
    gateway = GatewayProcess(tmp_path_factory.mktemp("spacy-setting"), port=1)
    gateway.prepare()
    return gateway


def _serve_once(gw: GatewayProcess, spacy_model: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "gateway"), "serve", "--port", "1"],
                          env={**gw.env, "GATEWAY_SPACY_MODEL": spacy_model}, capture_output=True, text=True,
                          timeout=120)


def _copy_of_default(tmp_path: Path) -> Path:
    copy = tmp_path / "pipeline"
    shutil.copytree(pipeline_path(DEFAULT_SPACY_MODEL), copy)
    return copy


def test_when_the_pipeline_has_no_ner_then_the_start_is_refused(gw: GatewayProcess, tmp_path: Path) -> None:
    copy = _copy_of_default(tmp_path)
    config = (copy / "config.cfg").read_text("utf-8")
    assert ', "ner"]' in config
    (copy / "config.cfg").write_text(config.replace(', "ner"]', "]"), "utf-8")
    refused = _serve_once(gw, str(copy))
    assert refused.returncode == 2 and "setting spacy_model" in refused.stderr, refused.stderr[-2000:]
    assert "has no ner component" in refused.stderr and "Traceback" not in refused.stderr


def test_when_anyone_may_write_to_the_pipeline_then_the_start_is_refused(gw: GatewayProcess, tmp_path: Path) -> None:
    copy = _copy_of_default(tmp_path)
    (copy / "ner" / "model").chmod(0o666)
    refused = _serve_once(gw, str(copy))
    assert refused.returncode == 2 and "may be written by anyone" in refused.stderr, refused.stderr[-2000:]


def test_when_the_setting_names_a_dotted_module_then_nothing_of_it_runs(gw: GatewayProcess) -> None:
    refused = _serve_once(gw, "this.x")  # importing `this` prints the Zen of Python
    assert refused.returncode == 2 and "no spaCy pipeline 'this.x'" in refused.stderr, refused.stderr[-2000:]
    assert "Beautiful is better than ugly" not in refused.stdout + refused.stderr
