"""``gateway tenant shred`` of a name that holds nothing (attack16, F10: a typo read as a shred done, exit 0, and
an entry for a tenant that never existed; ``../../x`` taken as a tenant name into the signed log)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli.commands import _offline_store, main
from gateway.crypto.envelope import RecordContext
from gateway.settings import load_settings


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "var").mkdir(mode=0o700)
    (tmp_path / "keys").mkdir(mode=0o700)
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("GATEWAY_KEYS_DIR", str(tmp_path / "keys"))
    assert main(["keys", "init"]) == 0
    return tmp_path / "var"


def _entries(data_dir: Path) -> bytes:
    return (data_dir / "audit.db").read_bytes() if (data_dir / "audit.db").exists() else b""


def test_when_the_tenant_holds_nothing_then_nothing_is_shredded_or_audited(
        data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tenant", "shred", "acmee", "--confirm", "acmee"]) == 1
    err = capsys.readouterr().err
    assert "nothing to shred" in err and "shredded" not in err
    assert b"tenant.shred" not in _entries(data_dir)


def test_when_the_tenant_name_is_no_name_then_it_is_refused(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tenant", "shred", "../../x", "--confirm", "../../x"]) == 2
    assert "tenant must be" in capsys.readouterr().err
    assert b"../../x" not in _entries(data_dir)


def test_when_the_tenant_holds_a_data_key_then_it_is_shredded(data_dir: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    envelope, store = _offline_store(load_settings())
    try:
        envelope.encrypt(RecordContext("acme", "docs", "r1", "1.0"), b"vector bytes")
        assert envelope.holds_keys("acme") and not envelope.holds_keys("acmee")
    finally:
        store.close()
    assert main(["tenant", "shred", "acme", "--confirm", "acme"]) == 0
    assert "tenant acme shredded" in capsys.readouterr().out
    envelope, store = _offline_store(load_settings())
    try:
        assert not envelope.holds_keys("acme")
    finally:
        store.close()


def test_when_a_shred_stopped_after_destroying_the_keys_then_running_it_again_completes_it(
        data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # fixes18b: a crash between the keys' destruction and the jobs' deletion left the tenant's jobs and files, and
    # running the command again said "nothing to shred" (exit 1) and left them, retried until they expired.
    from gateway.cli.retention import background_stores
    from gateway.jobs.base import Job
    from gateway.jobs.files import FileRow

    settings = load_settings()
    envelope, store = _offline_store(settings)
    files, jobs, inputs = background_stores(settings)
    try:
        envelope.encrypt(RecordContext("acme", "_jobs", "job-1/input", "1"), b"staged input")
        jobs.create(Job("job-1", "acme", "batch", "running", {"tenant": "acme"}, {}, 3, 1.0, 9e9))
        inputs.put("job-1", "acme", b"sealed input")
        files.put(FileRow("file-1", "acme", "batch", b"sealed name", 10, 1.0, 9e9), b"sealed")
        envelope.shred("acme")  # the shred's first step, then the process died
    finally:
        store.close()
    assert main(["tenant", "shred", "acme", "--confirm", "acme"]) == 0
    assert "interrupted shred completed" in capsys.readouterr().out
    assert jobs.list_jobs("acme", "batch", 10) == [] and inputs.get("acme", "job-1") is None
    assert files.list_files("acme", None, 10, None) == []
    assert b'"completed":{"files":1,"jobs":1}' in _entries(data_dir) and b"tenant.shred" in _entries(data_dir)
    assert main(["tenant", "shred", "acme", "--confirm", "acme"]) == 1  # done now: nothing is left
    assert "nothing to shred" in capsys.readouterr().err
