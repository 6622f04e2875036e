"""The gateway's process imports Presidio without ``transformers.pipelines`` (about 0.6 s of every start), and the
detector and the model work as before without it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _run(script: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True,
                         check=True, timeout=180, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return out.stdout.split()


def test_when_the_gateway_imports_presidio_then_transformers_pipelines_stay_out_and_detection_works() -> None:
    loaded, available, found = _run("""
        import sys
        from pathlib import Path
        from gateway.pii.decide import decide  # presidio_anonymizer, which imports presidio_analyzer
        from gateway.pii.detector import PresidioDetector
        from gateway.policy.loader import load_policy
        from presidio_analyzer.nlp_engine.huggingface_token_pipe import is_available
        policy = load_policy(Path("policy/gateway.yaml"))
        [findings] = PresidioDetector(policy=policy).analyze(
            ["Please email jane.doe@example.com, or call Maria Gonzalez."], [policy.scope("acme")])
        print(sys.modules.get("transformers.pipelines") is not None, is_available(),
              ",".join(sorted({f.entity_type for f in findings})))
    """)
    assert (loaded, available) == ("False", "False")
    assert found == "EMAIL_ADDRESS,PERSON"


def test_when_the_pipelines_were_imported_first_then_they_are_left_as_they_are() -> None:
    # a process that uses transformers' pipelines itself (a notebook beside the gateway's modules) keeps them
    assert _run("""
        import transformers.pipelines, sys
        import gateway.pii.detector
        print(sys.modules["transformers.pipelines"] is not None)
    """) == ["True"]
