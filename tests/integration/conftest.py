import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import infinitykit
from tests.enginekit import RecordingEngine, models_yaml, port_in_range
from tests.infinitykit import Infinity
from tests.integration.server import GatewayProcess, serving

REMOTE_MODEL = "minilm-remote"  # served by ``recording_engine``
DOWN_MODEL = "minilm-down"  # its engine URL is a loopback port nothing listens on


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
    if not infinitykit.installed():
        capture = request.config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled():  # the build's progress shows on the terminal
            sys.stderr.write("\nbuilding Infinity for the engine tests (var/engines/infinity; `make engines`)\n")
            infinitykit.install()
    with infinitykit.launched(Path(tmp_path_factory.mktemp("engines")), "mean", "cls") as (mean, cls):
        yield Engines(mean, cls)


@pytest.fixture(scope="session")
def engine_model() -> Any:
    """The packaged all-MiniLM-L6-v2 in the test process, for the engines the tests run."""
    from gateway.embedding.embedder import SentenceTransformerEmbedder
    from gateway.embedding.specs import DEFAULT_MODEL

    return SentenceTransformerEmbedder(DEFAULT_MODEL, "cpu", batch_size=16, cpu_threads=1)


@pytest.fixture(scope="session")
def recording_engine(engine_model: Any) -> Iterator[RecordingEngine]:
    """A real OpenAI-compatible embeddings server on loopback that records what it receives (``tests/enginekit``)."""
    engine = RecordingEngine(engine_model)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def remote_gateway(tmp_path_factory: pytest.TempPathFactory,
                   recording_engine: RecordingEngine) -> Iterator[GatewayProcess]:
    """A real gateway (real model, real Presidio) serving its in-process default, ``REMOTE_MODEL`` on
    ``recording_engine`` and ``DOWN_MODEL`` on a dead port; fingerprints probed every second."""
    dead = port_in_range(avoid=[recording_engine.port])

    def declare(policy_dir: Path) -> None:
        (policy_dir / "models.yaml").write_text(models_yaml({
            REMOTE_MODEL: recording_engine.base_url, DOWN_MODEL: f"http://127.0.0.1:{dead}/v1"}))

    env = {"GATEWAY_ENGINE_PROBE_INTERVAL_S": "1"}
    with serving(Path(tmp_path_factory.mktemp("remote-gateway")), env=env, edit_policy=declare) as proc:
        yield proc
