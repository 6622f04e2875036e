"""A broken ``policy.csv`` is logged and audited once per version (attack16, F4/F5).

Before: the same ERROR line at every poll (twice a second for as long as the file stayed broken), and no
``policy.reload`` entry at all, where a refused ``gateway.yaml`` gets one ``deny`` entry.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from gateway.auth.authz import Authorizer
from gateway.policy.changes import reload_policies
from gateway.policy.loader import PolicyHolder


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    for name in ("model.conf", "policy.csv", "gateway.yaml"):
        shutil.copy(Path("policy") / name, tmp_path / name)
    return tmp_path


def _edit(path: Path, text: str, tick: int) -> None:
    path.write_text(text, encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + tick * 1_000_000_000))  # a new stamp, whatever the clock


def test_when_policy_csv_stays_broken_then_it_is_logged_and_audited_once(
        policy_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    authorizer, holder = Authorizer(policy_dir), PolicyHolder(policy_dir / "gateway.yaml")
    entries: list[tuple[str, str, dict[str, Any]]] = []

    def record(event: str, decision: str, **fields: Any) -> None:
        entries.append((event, decision, fields))

    good = (policy_dir / "policy.csv").read_text(encoding="utf-8")
    _edit(policy_dir / "policy.csv", good + "p, writer, *, embeddings\n", 1)
    with caplog.at_level(logging.ERROR, logger="gateway.auth.authz"):
        for _ in range(5):
            reload_policies(holder, authorizer, None, record, lambda: None)
    assert len([r for r in caplog.records if "casbin policy not reloaded" in r.getMessage()]) == 1
    assert [(e, d, f["what"]) for e, d, f in entries] == [("policy.reload", "deny", "casbin")]
    assert authorizer.last_error is not None

    _edit(policy_dir / "policy.csv", good, 2)  # repaired: taken at once, the refusal forgotten
    reload_policies(holder, authorizer, None, record, lambda: None)
    assert entries[-1][:2] == ("policy.reload", "allow") and authorizer.last_error is None


def test_when_a_broken_file_is_completed_within_the_same_tick_then_it_still_loads(policy_dir: Path) -> None:
    authorizer = Authorizer(policy_dir)
    path = policy_dir / "policy.csv"
    good = path.read_text(encoding="utf-8")
    _edit(path, good + "p, writer, *, embeddings\n", 1)
    assert authorizer.reload_if_changed() is False
    stamp = path.stat().st_mtime_ns
    path.write_text(good + "p, writer, *, texts, read\n", encoding="utf-8")
    os.utime(path, ns=(stamp, stamp))  # the same time stamp as the refused version
    assert authorizer.reload_if_changed() is True
