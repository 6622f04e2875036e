import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import enginekit
from tests.enginekit import Infinity
from tests.integration.server import GatewayProcess, serving


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """One real gateway for the session: the model and Presidio load once."""
    with serving(Path(tmp_path_factory.mktemp("gateway"))) as proc:
        yield proc


@dataclass(frozen=True)
class Engines:
    """Two Infinity servers, booting in the background until first used (the in-process model loads meanwhile)."""

    _mean: Infinity
    _cls: Infinity

    @property
    def infinity(self) -> Infinity:
        """The packaged model as its card says: mean pooling."""
        return self._mean.wait_ready()

    @property
    def infinity_cls(self) -> Infinity:
        """The same weights pooled by the CLS token: a swapped model that a weights hash would not see."""
        return self._cls.wait_ready()


@pytest.fixture(scope="session")
def engines(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engines]:
    """Two real Infinity servers for the session (built on first use, ~5 min, once: `make engines`)."""
    if not enginekit.installed():
        capture = request.config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled():  # the build's progress shows on the terminal
            sys.stderr.write("\nbuilding Infinity for the engine tests (var/engines/infinity; `make engines`)\n")
            enginekit.install()
    with enginekit.launched(Path(tmp_path_factory.mktemp("engines")), "mean", "cls") as (mean, cls):
        yield Engines(mean, cls)
