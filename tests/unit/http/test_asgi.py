"""``build_app`` loads with the cyclic collector off, and turns it on again after the freeze or a failed start."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest

import gateway.bootstrap
import gateway.http.app
import gateway.http.asgi
import gateway.pii.stage
from gateway.settings import Settings, load_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings({}, data_dir=tmp_path / "data", keys_dir=tmp_path / "keys", policy_dir=tmp_path / "policy")


@pytest.fixture
def collector_on() -> Any:
    """The test process's collector as the tests expect it before and leave it after: on."""
    assert gc.isenabled()
    yield
    gc.enable()


def test_when_the_app_is_built_then_the_collector_is_off_while_loading_and_on_again_after(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, collector_on: None,
) -> None:
    seen: dict[str, bool] = {}

    def step(name: str, result: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            seen[name] = gc.isenabled()
            return result

        return run

    monkeypatch.setattr(gateway.pii.stage, "start_detection", step("detection", "stage"))
    monkeypatch.setattr(gateway.bootstrap, "build_services", step("services", "services"))
    monkeypatch.setattr(gateway.http.asgi, "freeze_heap", step("freeze", None))
    monkeypatch.setattr(gateway.http.app, "create_app", step("app", "the app"))
    assert gateway.http.asgi.build_app(settings) == "the app"  # type: ignore[comparison-overlap]
    assert seen == {"detection": False, "services": False, "freeze": False, "app": False}
    assert gc.isenabled()


def test_when_the_start_fails_then_the_collector_is_on_again(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, collector_on: None,
) -> None:
    def fail(*args: Any) -> None:
        raise RuntimeError("no spaCy pipeline")

    monkeypatch.setattr(gateway.pii.stage, "start_detection", fail)
    with pytest.raises(RuntimeError, match="no spaCy pipeline"):
        gateway.http.asgi.build_app(settings)
    assert gc.isenabled()


def test_when_the_caller_had_the_collector_off_then_it_stays_off(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, collector_on: None,
) -> None:
    monkeypatch.setattr(gateway.pii.stage, "start_detection", lambda *args: None)
    monkeypatch.setattr(gateway.bootstrap, "build_services", lambda *args, **kwargs: None)
    monkeypatch.setattr(gateway.http.asgi, "freeze_heap", lambda: None)
    monkeypatch.setattr(gateway.http.app, "create_app", lambda services: "the app")
    gc.disable()
    gateway.http.asgi.build_app(settings)
    assert not gc.isenabled()
