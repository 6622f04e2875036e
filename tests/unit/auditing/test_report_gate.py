"""Evidence reports are built one at a time per process (attack17). Each verifies the whole log in a worker thread
of ``asyncio.to_thread``'s pool, which every other use of it shares; one auditor's 12 report requests at once took
the pool, and another tenant's file listing went from 0.01 s to 1.7 s (up to 8.6 s) over HTTP."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from audit.report_scope import ReportScope
from gateway.auditing import queries
from tests.unit.http.conftest import fake_services


def test_when_reports_are_asked_for_at_once_then_one_is_built_at_a_time_and_every_one_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = fake_services(tmp_path)
    busy, most, lock = [0], [0], threading.Lock()

    def report(*args: Any, **kwargs: Any) -> dict[str, Any]:
        with lock:
            busy[0] += 1
            most[0] = max(most[0], busy[0])
        time.sleep(0.05)
        with lock:
            busy[0] -= 1
        return {"summary": {"entries": 0}, "verification": {"status": "verified"}}

    monkeypatch.setattr(queries.evidence, "report", report)

    async def many() -> list[str]:
        reads = [services.audit_queries.report(ReportScope(), "nist-ai-rmf", "json") for _ in range(6)]
        return [r.audit["verification"] for r in await asyncio.gather(*reads)]

    try:
        assert asyncio.run(many()) == ["verified"] * 6
    finally:
        services.close()
    assert most[0] == 1
