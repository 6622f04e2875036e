"""``gateway models probe NAME``: the fingerprint a declared remote model's engine answers, for pinning; a pin that
no longer matches exits 1; a name without an engine is refused clearly. The engine is a real HTTP server on
loopback (``tests/enginekit``) computing the fake model's vectors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.cli.commands import main
from gateway.embedding.embedder import FakeEmbedder
from gateway.embedding.fingerprint import matches, probe
from gateway.embedding.specs import DEFAULT_MODEL
from tests.enginekit import RecordingEngine, models_yaml


@pytest.fixture
def engine() -> Iterator[RecordingEngine]:
    served = RecordingEngine(FakeEmbedder(DEFAULT_MODEL))
    yield served
    served.close()


def _declare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: RecordingEngine, pin: str = "") -> None:
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "models.yaml").write_text(models_yaml({"remote": engine.base_url}, fingerprint=pin))
    monkeypatch.setenv("GATEWAY_POLICY_DIR", str(tmp_path / "policy"))
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path / "var"))


def test_when_a_remote_model_is_probed_then_its_fingerprint_is_printed_for_pinning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], engine: RecordingEngine,
) -> None:
    _declare(tmp_path, monkeypatch, engine)
    assert main(["models", "probe", "remote"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("probe:v1:") and matches(printed, probe(FakeEmbedder(DEFAULT_MODEL).encode))
    assert engine.received  # it asked the engine, not itself


def test_when_the_pin_no_longer_matches_then_the_probe_says_so_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], engine: RecordingEngine,
) -> None:
    other = probe(lambda texts: -FakeEmbedder(DEFAULT_MODEL).encode(texts))
    _declare(tmp_path, monkeypatch, engine, pin=other)
    assert main(["models", "probe", "remote"]) == 1
    assert "DOES NOT match" in capsys.readouterr().err


def test_when_the_model_has_no_engine_then_the_probe_is_refused_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], engine: RecordingEngine,
) -> None:
    _declare(tmp_path, monkeypatch, engine)
    assert main(["models", "probe", DEFAULT_MODEL.name]) != 0
    assert "not a declared remote model" in capsys.readouterr().err
