"""The spare interpreter that serves test gateway starts (``tests/integration/spare.py``) runs the installed
``gateway`` script as a fresh process would: same output, same exit code, with the environment it is handed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.server import BIN, REPO
from tests.integration.spare import SPARES, _Spares


def test_when_an_environment_differs_in_what_the_imports_read_then_no_spare_is_used() -> None:
    spares = _Spares()
    spares.env = {"PATH": "/bin", "HF_HUB_OFFLINE": "1", "PYTEST_CURRENT_TEST": "a"}
    same = {"PATH": "/bin", "HF_HUB_OFFLINE": "1", "PYTEST_CURRENT_TEST": "b", "GATEWAY_WORKERS": "2",
            "OTEL_SERVICE_NAME": "x", "SOFTHSM2_CONF": "/tmp/conf"}
    assert spares._fits(same)
    assert not spares._fits({**same, "PYTHONPATH": "/guard"})  # a sitecustomize: only a fresh interpreter reads it
    assert not spares._fits({**same, "HF_HUB_OFFLINE": "0"})  # read by huggingface_hub when it is imported
    assert not spares._fits({k: v for k, v in same.items() if k != "PATH"})
    spares.close()


def test_when_the_test_process_environment_changes_then_the_stale_spare_is_replaced_for_the_next_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Importing torch in the test process sets KMP_* and TORCHINDUCTOR_CACHE_DIR there: before, a spare started
    earlier never fitted a start again, and every later start of the suite ran fresh."""
    spares = _Spares()
    spares.off = False
    spawned: list[dict[str, str]] = []
    monkeypatch.setattr(spares, "spawn", lambda: spawned.append(spares._base_env()))
    stale = subprocess.Popen(["sleep", "60"])
    spares.proc, spares.env = stale, spares._base_env()
    monkeypatch.setenv("SPARE_TEST_CHANGED", "1")  # as torch's import sets KMP_INIT_AT_FORK (already set here if so)
    assert spares.claim(["serve"], {**os.environ, "HF_HUB_OFFLINE": "1"}, Path(os.devnull)) is None
    assert spares.miss == "stale-spare" and stale.poll() is not None and spares.proc is None
    assert spawned and spawned[0]["SPARE_TEST_CHANGED"] == "1"  # the next spare has the environment of now


def test_when_a_spare_runs_a_gateway_command_then_it_answers_as_a_fresh_process_with_the_environment_given(
    tmp_path: Path,
) -> None:
    if SPARES.off:
        pytest.skip("spare interpreters are off (SUITE_WARM_STARTS=0, or this user may not lower a nice value)")
    policy = tmp_path / "policy"
    shutil.copytree(REPO / "policy", policy)
    (policy / "models.yaml").write_text("models: [", "utf-8")  # refused: only the policy handed over has it
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GATEWAY_POLICY_DIR": str(policy),
           "GATEWAY_DATA_DIR": str(tmp_path / "data"), "GATEWAY_KEYS_DIR": str(tmp_path / "keys")}
    fresh = subprocess.run([str(BIN / "gateway"), "policy", "check"], env=env, capture_output=True, text=True,
                           timeout=120)
    SPARES.spawn()
    log = tmp_path / "spare.log"
    proc = SPARES.claim(["policy", "check"], env, log)
    if proc is None:
        assert SPARES.off, "a spare of this environment was not used"
        pytest.skip("this user may not lower a nice value: spares refuse")
    assert proc.wait(120) == fresh.returncode == 2
    assert log.read_text() == fresh.stdout + fresh.stderr
    assert "models.yaml" in fresh.stdout + fresh.stderr
