"""Browser tests drive Debian's chromium through Playwright against a real gateway subprocess.

CI needs, as root: ``apt-get update && apt-get install -y chromium``, and in the venv: ``pip install
playwright`` (never ``playwright install``: the browser comes from Debian). Without them the tests skip.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from tests.integration.server import GatewayProcess

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if importlib.util.find_spec("playwright") is None:
        return "the Python package 'playwright' is not installed (.venv/bin/pip install playwright)"
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        return "Debian's chromium is not installed (apt-get install -y chromium)"
    return None


@pytest.fixture(scope="session")
def console_gateway(request: pytest.FixtureRequest) -> GatewayProcess:
    """The session's real gateway (``tests/conftest.py``) for the browser tests, started only when a browser is
    available. The console lists entries newest first, so what a test just did is on its first page."""
    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    gateway: GatewayProcess = request.getfixturevalue("session_gateway")
    return gateway
