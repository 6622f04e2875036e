from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.server import GatewayProcess, serving


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """One real gateway for the session: the model and Presidio load once."""
    with serving(Path(tmp_path_factory.mktemp("gateway"))) as proc:
        yield proc
