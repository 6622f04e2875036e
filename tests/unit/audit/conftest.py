"""Shared fixtures for the audit package: a fixed signing key, entry factories and a live log."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from audit.checkpoint import CheckpointSigner
from audit.keys import Ed25519PrivateKey, public_key_pem
from audit.sqlite_log import SQLiteAuditLog

ORIGIN = "gateway.test/audit"
KEY_NAME = "gateway.test-audit"


@pytest.fixture
def private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


@pytest.fixture
def signer(private_key: Ed25519PrivateKey) -> CheckpointSigner:
    return CheckpointSigner(private_key, KEY_NAME)


@pytest.fixture
def public_key_file(tmp_path: Path, private_key: Ed25519PrivateKey) -> Path:
    path = tmp_path / "audit_ed25519.pub"
    path.write_bytes(public_key_pem(private_key.public_key()))
    return path


@pytest.fixture
def open_log(tmp_path: Path, signer: CheckpointSigner) -> Iterator[Callable[..., SQLiteAuditLog]]:
    """Opens logs under ``tmp_path`` (``<data-dir>/audit.db``) and closes them after the test."""
    logs: list[SQLiteAuditLog] = []

    def _open(**kwargs: Any) -> SQLiteAuditLog:
        kwargs.setdefault("signer", signer)
        kwargs.setdefault("origin", ORIGIN)
        log = SQLiteAuditLog(tmp_path / "audit.db", **kwargs)
        logs.append(log)
        return log

    yield _open
    for log in logs:
        log.close()
