"""operator16: a replica stopped after a KEK rotation it did not know of could not seal its last index snapshot;
``Services.close`` raised there and never closed the audit log (its last checkpoint unsigned)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.errors import DecryptionFailed
from tests.unit.http.conftest import fake_services


def test_when_the_store_fails_to_close_then_the_audit_log_is_still_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = fake_services(tmp_path)
    closed: list[bool] = []
    close_log = services.audit_log.close

    def spy() -> None:
        closed.append(True)
        close_log()

    def unsealable() -> None:
        raise DecryptionFailed()

    monkeypatch.setattr(services.audit_log, "close", spy)
    monkeypatch.setattr(services.collections.store, "close", unsealable)
    with pytest.raises(DecryptionFailed):
        services.close()  # the failure still reaches the caller (the shutdown reports it)
    assert closed == [True]
