"""The PII stage starts before the composition root's heavy imports, and the services take the stage as started."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gateway.bootstrap import build_services
from gateway.crypto.keyfiles import init_keys
from gateway.embedding.embedder import FakeEmbedder
from gateway.embedding.specs import DEFAULT_MODEL
from gateway.errors import ConfigurationError
from gateway.pii.fake import FakeDetector
from gateway.pii.stage import DetectionStage, start_detection
from gateway.policy.loader import PolicyHolder
from gateway.settings import load_settings

ROOT = Path(__file__).resolve().parents[3]


def test_when_build_app_starts_the_pii_stage_then_nothing_heavy_has_been_imported_yet() -> None:
    # What build_app imports before it starts the stage: a pool's workers then load beside the heavy imports.
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        import gateway.http.asgi, gateway.pii.stage, gateway.pipeline.cpus
        print(*sorted(m for m in ("torch", "transformers", "sentence_transformers", "opacus", "spacy",
                                  "presidio_analyzer", "gateway.bootstrap") if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert out.stdout.split() == []


def test_when_the_services_are_handed_a_started_stage_then_they_serve_its_detector_and_policy_after_waiting(
    tmp_path: Path,
) -> None:
    shutil.copytree(ROOT / "policy", tmp_path / "policy")
    init_keys(tmp_path / "keys")
    settings = load_settings({}, data_dir=tmp_path / "data", keys_dir=tmp_path / "keys",
                             policy_dir=tmp_path / "policy", batch_max_wait_ms=0.0)
    waited: list[bool] = []
    holder = PolicyHolder(tmp_path / "policy" / "gateway.yaml")
    detector = FakeDetector()
    stage = DetectionStage(holder, detector, 2, lambda: waited.append(True))
    services = build_services(settings, embedder=FakeEmbedder(DEFAULT_MODEL), detection=stage)
    try:
        assert services.detector is detector and services.policy is holder and waited == [True]
    finally:
        services.close()


def test_when_spacy_model_names_no_installed_pipeline_then_the_stage_refuses_at_once_and_names_the_setting(
    tmp_path: Path,
) -> None:
    for name in ("no_such_spacy_model", "no_such.parent", "../elsewhere"):
        settings = load_settings({"GATEWAY_SPACY_MODEL": name, "GATEWAY_POLICY_DIR": str(tmp_path)})
        with pytest.raises(ConfigurationError, match=r"setting spacy_model: no spaCy pipeline"):
            start_detection(settings, cpus=2)
