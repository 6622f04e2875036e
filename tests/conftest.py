"""Shared test configuration: everything offline, nothing fetched at run time."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.softhsm import SoftHsm

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    """A SoftHSM2 token directory for the session (``tests/softhsm.py``); skips, saying why, without softhsm2."""
    from tests import softhsm as kit  # imports the gateway: only for the tests that ask for a token

    if not kit.available():
        pytest.skip(f"SoftHSM2 is not installed ({kit.MODULE}); `.ci/run` installs Debian's softhsm2")
    previous = os.environ.get("SOFTHSM2_CONF")
    yield kit.start(tmp_path_factory.mktemp("softhsm"))
    if previous is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = previous
