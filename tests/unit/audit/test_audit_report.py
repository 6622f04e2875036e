"""The NIST AI RMF report renders from a real, verified log, as self-contained HTML and as JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from audit.cli import main
from audit.events import SUBCATEGORIES
from audit.export import export_log
from audit.sqlite_log import SQLiteAuditLog
from tests.unit.audit.audit_testkit import extra_events, make_entry


@pytest.fixture
def export(tmp_path: Path, open_log: Callable[..., SQLiteAuditLog]) -> tuple[Path, Path]:
    log = open_log(checkpoint_interval_s=3600)
    for i in range(24):
        log.append(make_entry(i))
    for entry in extra_events():
        log.append(entry)
    log.close()
    out, cp = tmp_path / "log.jsonl", tmp_path / "cp.txt"
    export_log(tmp_path, out, cp)
    return out, cp


def _report(export: tuple[Path, Path], key: Path, out: Path, *extra: str) -> int:
    log, cp = export
    argv = ["report", "--framework", "nist-ai-rmf", "--log", str(log), "--checkpoint", str(cp)]
    return main([*argv, "--public-key", str(key), "--out", str(out), *extra])


def test_when_reporting_as_json_then_evidence_is_drawn_from_the_log(
    tmp_path: Path, export: tuple[Path, Path], public_key_file: Path
) -> None:
    out = tmp_path / "report.json"
    assert _report(export, public_key_file, out, "--format", "json") == 0
    report = json.loads(out.read_text())
    assert report["verification"]["status"] == "verified"
    assert report["verification"]["size"] == 29
    assert report["by_decision"] == {"allow": 16, "block": 6, "deny": 7}
    assert report["pii"] == {"US_SSN": {"block": 6}}
    assert report["noise"]["sigma_max"] == 0.05
    assert report["privacy"]["epsilon_spent_max_by_tenant"]["tenant-1"] == pytest.approx(2.3)
    assert [r["key_version"] for r in report["keys"]["rotations"]] == [2]
    assert report["keys"]["shreds"][0]["tenant"] == "tenant-9"
    assert report["models"][0]["value"]["fingerprint"] == "53aa5117"
    assert report["unmapped_events"] == {"custom.unmapped": 1}
    assert [s["id"] for s in report["subcategories"]] == list(SUBCATEGORIES)
    measure_210 = next(s for s in report["subcategories"] if s["id"] == "MEASURE 2.10")
    assert measure_210["events"] == {"embeddings.create": 24, "tenant.shred": 1}
    assert {r["risk"] for r in report["genai_risks"]} == {"Data Privacy", "Information Security"}


def test_when_reporting_as_html_then_page_is_self_contained_with_charts(
    tmp_path: Path, export: tuple[Path, Path], public_key_file: Path
) -> None:
    out = tmp_path / "report.html"
    assert _report(export, public_key_file, out) == 0
    page = out.read_text()
    assert "VERIFIED" in page and "NOT VERIFIED" not in page
    assert page.count("<svg") == 2
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "<script" not in page
    for sid in SUBCATEGORIES:
        assert f"<h3>{sid}:" in page


def test_when_log_does_not_verify_then_report_says_so_and_exits_nonzero(
    tmp_path: Path, export: tuple[Path, Path], public_key_file: Path
) -> None:
    log, _ = export
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:-1]))
    out = tmp_path / "report.html"
    assert _report(export, public_key_file, out) == 1
    assert "NOT VERIFIED" in out.read_text()


def test_when_entry_text_holds_markup_then_html_escapes_it(
    tmp_path: Path, open_log: Callable[..., SQLiteAuditLog], public_key_file: Path
) -> None:
    log = open_log()
    log.append(make_entry(0, event="<script>alert(1)</script>"))
    log.close()
    out, cp = tmp_path / "log.jsonl", tmp_path / "cp.txt"
    export_log(tmp_path, out, cp)
    assert _report((out, cp), public_key_file, tmp_path / "r.html") == 0
    assert "<script>" not in (tmp_path / "r.html").read_text()
