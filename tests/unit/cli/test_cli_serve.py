"""``gateway serve`` says it listens only on an address it can bind; uvicorn and the app are faked here."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

import gateway.http.asgi
from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.backends.sqlite.datakeys import SQLiteDataKeyRepository
from gateway.cli.commands import ensure_bindable, main
from gateway.crypto.envelope import Envelope, RecordContext
from gateway.crypto.keyfiles import init_keys, load_keys
from gateway.errors import ConfigurationError


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield int(other.getsockname()[1])


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, Any]]:
    """Each uvicorn.run call, instead of a server; the app is never built for real."""
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("GATEWAY_KEYS_DIR", str(tmp_path / "keys"))
    init_keys(tmp_path / "keys")
    runs: list[dict[str, Any]] = []
    monkeypatch.setattr(gateway.http.asgi, "build_app", lambda settings: object())
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: runs.append(kwargs))
    monkeypatch.setattr("gateway.cli.commands.configure_logging", lambda level: None)
    return runs


def test_when_the_port_is_already_in_use_then_serve_fails_without_claiming_to_listen(
    started: list[dict[str, Any]], taken_port: int, capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["serve", "--port", str(taken_port)]) == 2
    assert capsys.readouterr().err == f"error: 127.0.0.1:{taken_port} is already in use\n"
    assert started == []


def test_when_the_port_is_free_then_serve_announces_it_and_starts_uvicorn_on_it(
    started: list[dict[str, Any]], capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    assert main(["serve", "--port", str(port)]) == 0
    assert f"gateway listening on http://127.0.0.1:{port}" in capsys.readouterr().err
    assert [(run["host"], run["port"]) for run in started] == [("127.0.0.1", port)]


def test_when_the_host_cannot_be_bound_then_the_error_names_the_address() -> None:
    with pytest.raises(ConfigurationError, match=r"^cannot listen on 192\.0\.2\.1:8080: "):
        ensure_bindable("192.0.2.1", 8080)  # TEST-NET-1: assigned to no interface here


def _data_key_under(keys_dir: Path, data_dir: Path) -> None:
    """One tenant's data key in ``data_dir``'s database, wrapped under the KEK in ``keys_dir``."""
    db = SQLiteDatabase(data_dir / "gateway.db")
    Envelope(load_keys(keys_dir).kek, SQLiteDataKeyRepository(db)).encrypt(RecordContext("acme", "c", "r", "1"), b"x")
    db.connect().close()


def test_when_the_kek_opens_none_of_the_stored_data_keys_then_serve_refuses_before_building_the_app(
    started: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(gateway.http.asgi, "build_app", lambda settings: pytest.fail("the app was built"))
    init_keys(tmp_path / "other-keys")  # another kek.json: the one these data were written under
    _data_key_under(tmp_path / "other-keys", tmp_path / "var")
    assert main(["serve", "--port", "0"]) == 2
    assert "does not open the data keys stored under KEK version 1" in capsys.readouterr().err
    assert started == []  # neither the app (model, PII detector: build_app fails the test) nor uvicorn


def test_when_the_kek_opens_the_stored_data_keys_then_serve_builds_the_app(
    started: list[dict[str, Any]], tmp_path: Path,
) -> None:
    _data_key_under(tmp_path / "keys", tmp_path / "var")
    assert main(["serve", "--port", "0"]) == 0
    assert len(started) == 1


def test_when_hmac_key_is_swapped_after_a_start_then_serve_refuses_naming_the_file_and_never_the_key(
    started: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # Regression (attack19): another installation's hmac.key served in silence; searches answered scores near 0
    # in arbitrary order (every query rotated under another tenant key than the stored vectors).
    assert main(["serve", "--port", "0"]) == 0  # the first start records the root's check value
    check = tmp_path / "var" / "hmac_root.check"
    assert check.stat().st_mode & 0o777 == 0o600
    assert main(["serve", "--port", "0"]) == 0  # the same key: served again
    swapped = tmp_path / "keys" / "hmac.key"
    root = swapped.read_text()
    swapped.unlink()
    init_keys(tmp_path / "keys")  # a new hmac.key in its place, 0600 like the original
    capsys.readouterr()
    assert main(["serve", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "hmac.key is not the HMAC root the data" in err and swapped.read_text().strip() not in err
    assert root.strip() not in check.read_text() and len(started) == 2
