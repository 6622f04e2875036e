"""Shared test configuration: everything offline, nothing fetched at run time."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from gateway.policy.loader import GatewayPolicy
    from tests.integration.server import GatewayProcess
    from tests.softhsm import SoftHsm

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


# What the test modules import (torch, spaCy, Presidio, the gateway) and what the session fixtures load lives until
# the end; every full collection of the cyclic collector walked it all again, only to find it alive. Frozen after
# collection and after each session fixture, out of the collector's reach, as the gateway freezes its own heap
# after loading (``gateway.http.asgi.freeze_heap``). Time in the collector: tests/unit/http and tests/unit/pii
# 14.0 s to 6.6 s; unit/http with the hardening evasion suites, alternated, 13.6 and 12.8 s to 10.3 and 10.5 s.
def pytest_collection_finish(session: pytest.Session) -> None:
    gc.collect()
    gc.freeze()


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if fixturedef.scope == "session":
        gc.freeze()


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


@pytest.fixture(scope="session")
def session_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """One real gateway (real model, Presidio, SQLite) on the shipped policy for the whole session, shared by every
    suite that needs no setting of its own (a start costs 10-20 s): the model and Presidio load once. Its users
    add keys and collections of their own names, and whoever edits its policy restores it."""
    from tests.integration.server import serving

    with serving(tmp_path_factory.mktemp("gateway")) as proc:
        yield proc


@pytest.fixture(scope="session")
def shipped_policy() -> GatewayPolicy:
    """The shipped policy file, as a new user runs it."""
    from gateway.policy.loader import load_policy

    return load_policy(Path(__file__).resolve().parents[1] / "policy" / "gateway.yaml")


@pytest.fixture(scope="session")
def presidio(shipped_policy: GatewayPolicy) -> Any:
    """The real detector (spaCy and Presidio) under the shipped policy, loaded once for the session: the PII unit
    tests and the hardening evasion suites share it (each load reads spaCy and builds every recognizer)."""
    from gateway.pii.detector import PresidioDetector

    return PresidioDetector(policy=shipped_policy)


@pytest.fixture(scope="session")
def engine_model() -> Any:
    """The packaged all-MiniLM-L6-v2 in the test process, loaded once for the engines the suites run
    (``tests/enginekit.RecordingEngine``)."""
    from gateway.embedding.embedder import SentenceTransformerEmbedder
    from gateway.embedding.specs import DEFAULT_MODEL

    return SentenceTransformerEmbedder(DEFAULT_MODEL, "cpu", batch_size=16, cpu_threads=1)
