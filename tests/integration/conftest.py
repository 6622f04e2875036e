"""Fixtures of the integration suite: real gateways, engines and replica pairs, shared as widely as their settings
allow (each gateway start loads the model and Presidio)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests import infinitykit
from tests.enginekit import RecordingEngine, models_yaml, port_in_range
from tests.infinitykit import Infinity
from tests.integration.server import PII_IN_PROCESS, GatewayProcess, pg_replicas, serving
from tests.otlpkit import Receiver

if TYPE_CHECKING:
    from tests.unit.backends.postgres.pgkit import TempSchema

REMOTE_MODEL = "minilm-remote"  # served by ``recording_engine``
DOWN_MODEL = "minilm-down"  # its engine URL is a loopback port nothing listens on


@pytest.fixture(scope="session")
def gateway(session_gateway: GatewayProcess) -> GatewayProcess:
    """The session's real gateway (``tests/conftest.py``), shared with the other suites."""
    return session_gateway


@pytest.fixture(scope="module")
def globex_writer(gateway: GatewayProcess) -> str:
    """A writer's API key of tenant globex on the session's gateway (the PII-over-HTTP suites)."""
    return gateway.make_key("globex", "app", "writer")


# Tenants with quotas that test_quotas_pg spends; the other users of ``replicas`` never name them.
QUOTA_PG_TENANTS = """
  q-pg-tpm:
    quotas:
      key: {tokens_per_minute: 30}
  q-pg-rpm:
    quotas:
      tenant: {requests_per_minute: 3}
"""


@pytest.fixture(scope="session")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayProcess, GatewayProcess, TempSchema]]:
    """Two real gateways on one PostgreSQL schema for the session (test_quotas_pg, test_replicas: a pair costs two
    gateway starts), with test_quotas_pg's tenants in their policy. test_replicas stops both at its end, for their
    last checkpoint; a test that kills one starts a pair of its own (``killable_replicas``)."""
    def with_tenants(policy_dir: Path) -> None:
        with (policy_dir / "gateway.yaml").open("a", encoding="utf-8") as fh:
            fh.write(QUOTA_PG_TENANTS)  # appended under `tenants:`, the file's last section

    with _replica_pair(tmp_path_factory.mktemp("replicas"), edit_policy=with_tenants) as pair:
        yield pair


@pytest.fixture(scope="module")
def killable_replicas(tmp_path_factory: pytest.TempPathFactory,
                      ) -> Iterator[tuple[GatewayProcess, GatewayProcess, TempSchema]]:
    """A pair of replicas of the module's own, for a test that kills one."""
    with _replica_pair(tmp_path_factory.mktemp("killable-replicas")) as pair:
        yield pair


@contextmanager
def _replica_pair(root: Path, edit_policy: Callable[[Path], None] | None = None,
                  ) -> Iterator[tuple[GatewayProcess, GatewayProcess, TempSchema]]:
    from tests.unit.backends.postgres.pgkit import TempSchema  # psycopg and the backend: only when asked for

    schema = TempSchema()
    try:
        with pg_replicas(root, schema.url, env=PII_IN_PROCESS, edit_policy=edit_policy) as (one, two):
            yield one, two, schema
    finally:
        schema.drop()


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
def recording_engine(engine_model: Any) -> Iterator[RecordingEngine]:
    """A real OpenAI-compatible embeddings server on loopback that records what it receives (``tests/enginekit``)."""
    engine = RecordingEngine(engine_model)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def otlp_receiver() -> Iterator[Receiver]:
    """An OTLP/HTTP receiver on loopback that collects the spans ``remote_gateway`` exports (``tests/otlpkit``)."""
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="session")
def remote_gateway(tmp_path_factory: pytest.TempPathFactory, recording_engine: RecordingEngine,
                   otlp_receiver: Receiver) -> Iterator[GatewayProcess]:
    """A real gateway (real model, real Presidio) serving its in-process default, ``REMOTE_MODEL`` on
    ``recording_engine`` and ``DOWN_MODEL`` on a dead port; fingerprints probed every second; traces exported to
    ``otlp_receiver``. test_remote_engine_api and test_tracing_otlp share it (a gateway start fewer)."""
    dead = port_in_range(avoid=[recording_engine.port])

    def declare(policy_dir: Path) -> None:
        (policy_dir / "models.yaml").write_text(models_yaml({
            REMOTE_MODEL: recording_engine.base_url, DOWN_MODEL: f"http://127.0.0.1:{dead}/v1"}))

    env = {**PII_IN_PROCESS, "GATEWAY_ENGINE_PROBE_INTERVAL_S": "1", "OTEL_SERVICE_NAME": "gateway-it",
           "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"}
    with serving(Path(tmp_path_factory.mktemp("remote-gateway")), env=env, edit_policy=declare) as proc:
        yield proc
