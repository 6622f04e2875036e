"""``make run`` passes HOST and PORT to ``gateway serve`` only when they are given, so the settings decide otherwise."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _serve_line(**env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k not in ("HOST", "PORT")}
    out = subprocess.run(["make", "-n", "run"], cwd=ROOT, env={**base, **env}, capture_output=True, text=True,
                         check=True).stdout
    (line,) = [line for line in out.splitlines() if "gateway serve" in line]
    return line


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_when_make_run_is_given_no_host_or_port_then_the_settings_choose_them() -> None:
    # Regression: `make run` always passed --host 127.0.0.1 --port 8080, which beat GATEWAY_PORT and the config file.
    assert "--port" not in _serve_line(GATEWAY_PORT="9000") and "--host" not in _serve_line()
    assert _serve_line(HOST="0.0.0.0", PORT="9000").split("serve", 1)[1].split() == [
        "--host", "0.0.0.0", "--port", "9000"]
