"""The NIST AI RMF report renders from a real, verified log, as self-contained HTML and as JSON."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from audit.checkpoint import parse_checkpoint
from audit.cli import main
from audit.cosign import WitnessKey, add_cosignatures, cosign
from audit.events import SUBCATEGORIES
from audit.export import export_log
from audit.keys import Ed25519PrivateKey
from audit.report import NO_WITNESSES
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
    assert report["verification"]["size"] == 30
    assert report["by_decision"] == {"allow": 13, "block": 6, "deny": 7}  # requests only: apikey.create is not one
    assert report["pii"] == {"US_SSN": {"block": 6}}
    assert report["noise"]["sigma_max"] == 0.05
    assert report["noise"]["requests_with_noise"] == 12  # the 12 allowed; blocked and denied released nothing
    spend = report["privacy"]["by_tenant_scope"]["tenant-1/embeddings"]
    assert spend["epsilon_radius"] == pytest.approx(2.3) and spend["epsilon_worst_case"] == pytest.approx(230.0)
    assert report["denial_codes"]["unauthenticated"] == 1
    assert [r["kek_version"] for r in report["keys"]["rotations"]] == [2]
    assert report["keys"]["rotations"][0]["actor"] == {"user": "ops", "host": "h1"}
    assert report["keys"]["shreds"][0]["tenant"] == "tenant-9"
    assert report["models"][0]["value"]["fingerprint"] == "53aa5117"
    assert report["unmapped_events"] == {"custom.unmapped": 1}
    assert [s["id"] for s in report["controls"]] == list(SUBCATEGORIES)
    measure_210 = next(s for s in report["controls"] if s["id"] == "MEASURE 2.10")
    assert measure_210["events"] == {"embeddings.create": 24, "tenant.shred": 1}
    assert measure_210["highlights"]["privacy"]["by_tenant_scope"]
    assert {r["risk"] for r in report["genai_risks"]} == {"Data Privacy", "Information Security"}


def test_when_a_report_is_made_then_its_summary_names_scope_time_tool_inputs_and_every_control(
    tmp_path: Path, export: tuple[Path, Path], public_key_file: Path
) -> None:
    out = tmp_path / "report.json"
    assert _report(export, public_key_file, out, "--format", "json") == 0
    s = json.loads(out.read_text())["summary"]
    log, cp = export
    assert s["scope"] == {"tenant": "*", "since": None, "until": None} and s["verification"] == "verified"
    assert s["inputs"]["log_sha256"] == hashlib.sha256(log.read_bytes()).hexdigest()
    assert s["inputs"]["checkpoint_sha256"] == hashlib.sha256(cp.read_bytes()).hexdigest()
    assert s["tool"]["name"] == "gateway-audit" and s["tool"]["version"] and s["generated_at"].endswith("Z")
    evidence = {c["id"]: c["evidence"] for c in s["controls"]}
    assert evidence["MEASURE 2.10"] == 25 and evidence["MEASURE 2.1"] == "none"
    assert len(s["controls"]) + len(s["not_covered"]) == 72 and "GOVERN 1.1" in s["not_covered"]


def test_when_scoped_by_tenant_and_time_then_every_section_counts_that_scope_only(
    tmp_path: Path, export: tuple[Path, Path], public_key_file: Path
) -> None:
    out = tmp_path / "report.json"
    assert _report(export, public_key_file, out, "--format", "json", "--tenant", "tenant-1") == 0
    report = json.loads(out.read_text())
    assert report["summary"]["by_event"] == {"embeddings.create": 12, "gateway.start": 1, "key.rotate": 1}
    assert set(report["privacy"]["by_tenant_scope"]) == {"tenant-1/embeddings"}
    assert {c["request_id"] for c in report["evidence_cards"]} == {f"req-{i}" for i in range(1, 24, 2)}
    assert _report(export, public_key_file, out, "--format", "json", "--since", "2025-01-02",
                   "--until", "2025-01-02T12:00:07Z") == 0
    report = json.loads(out.read_text())
    times = sorted(c["time"] for c in report["evidence_cards"])
    assert times and times[0] >= "2025-01-02" and times[-1] <= "2025-01-02T12:00:07Z"
    assert "2025-01-02T12:00:07Z" in times and len(times) == 4  # the bound is inclusive to the second
    assert report["summary"]["scope"]["since"] == "2025-01-02T00:00:00Z"


def test_when_reporting_as_csv_then_one_row_per_request_with_its_leaf(
    tmp_path: Path, export: tuple[Path, Path], public_key_file: Path
) -> None:
    out = tmp_path / "report.csv"
    assert _report(export, public_key_file, out, "--format", "csv") == 0
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert len(rows) == 26 and {r["request_id"] for r in rows} >= {"req-0", "req-auth"}
    first = next(r for r in rows if r["request_id"] == "req-0")
    assert first["decision"] == "allow" and len(first["leaf_hash"]) == 64 and first["index"] == "0"


@pytest.mark.parametrize(("framework", "control"), [("eu-ai-act", "Art. 12(1)"), ("iso-42001", "A.6.2.8")])
def test_when_another_framework_is_asked_then_its_controls_carry_the_evidence(
    tmp_path: Path, export: tuple[Path, Path], public_key_file: Path, framework: str, control: str
) -> None:
    out = tmp_path / "report.json"
    assert _report(export, public_key_file, out, "--format", "json", "--framework", framework) == 0
    report = json.loads(out.read_text())
    row = next(c for c in report["summary"]["controls"] if c["id"] == control)
    assert row["evidence"] == 29 and report["summary"]["not_covered"]
    assert _report(export, public_key_file, tmp_path / "r.html", "--framework", framework) == 0
    assert control in (tmp_path / "r.html").read_text()


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
    assert "Not covered by this gateway" in page and "Policy-change timeline" in page and "Evidence cards" in page
    assert "<code>{" not in page  # nested values are tables, not raw JSON


def test_when_log_does_not_verify_then_report_says_so_and_exits_nonzero(
    tmp_path: Path, export: tuple[Path, Path], public_key_file: Path
) -> None:
    log, _ = export
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:-1]))
    out = tmp_path / "report.html"
    assert _report(export, public_key_file, out) == 1
    page = out.read_text()
    assert "NOT VERIFIED" in page and "<svg" not in page and "Evidence cards" not in page
    assert "US_SSN" not in page and "Requests by decision" not in page  # only the failure, no evidence
    assert _report(export, public_key_file, tmp_path / "r.json", "--format", "json") == 1
    report = json.loads((tmp_path / "r.json").read_text())
    assert "pii" not in report and "evidence_cards" not in report and report["verification"]["status"] == "failed"


def test_when_log_does_not_verify_then_summary_counts_nothing_from_it(
    tmp_path: Path, export: tuple[Path, Path], public_key_file: Path
) -> None:
    # Regression (auditor15): an unverified JSON report still counted the log's entries per event in its summary
    # (and the HTML summary gave entries in scope and first and last times), from entries that prove nothing.
    log, _ = export
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join([lines[1], lines[0], *lines[2:]]))  # two entries swapped: root mismatch
    assert _report(export, public_key_file, tmp_path / "r.json", "--format", "json") == 1
    summary = json.loads((tmp_path / "r.json").read_text())["summary"]
    assert summary["verification"] == "failed"
    assert not {"by_event", "entries", "first_time", "last_time"} & summary.keys()
    assert {c["evidence"] for c in summary["controls"]} == {"not assessed"}
    assert _report(export, public_key_file, tmp_path / "r.html") == 1
    page = (tmp_path / "r.html").read_text()
    assert "NOT VERIFIED" in page and "entries in scope" not in page and "first entry" not in page


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


W1_KEY, W2_KEY = (Ed25519PrivateKey.from_private_bytes(bytes([n]) * 32) for n in (7, 8))
W1, W2 = WitnessKey("witness.test/w1", W1_KEY.public_key()), WitnessKey("witness.test/w2", W2_KEY.public_key())


def _cosigned_by_w1(export: tuple[Path, Path]) -> None:
    note = export[1].read_text()
    line = cosign(parse_checkpoint(note).body, W1_KEY, W1.name, 1_700_000_000)
    export[1].write_text(add_cosignatures(note, line, W1))


def test_when_no_witness_key_is_given_then_the_summary_says_the_signing_key_alone_vouches(
    tmp_path: Path, export: tuple[Path, Path], public_key_file: Path
) -> None:
    for fmt in ("json", "html", "csv"):
        out = tmp_path / f"report.{fmt}"
        assert _report(export, public_key_file, out, "--format", fmt) == 0
        assert NO_WITNESSES in out.read_text().replace("&#x27;", "'")
    summary = json.loads((tmp_path / "report.json").read_text())["summary"]
    assert summary["witnesses"]["quorum_met"] is None and summary["witnesses"]["cosigned"] == []


def test_when_witness_keys_are_given_then_the_summary_names_who_cosigned_and_the_quorum(
    tmp_path: Path, export: tuple[Path, Path], public_key_file: Path
) -> None:
    _cosigned_by_w1(export)
    keys = ("--witness-key", W1.vkey(), "--witness-key", W2.vkey())
    out = tmp_path / "report.json"
    assert _report(export, public_key_file, out, "--format", "json", *keys, "--witness-quorum", "1") == 0
    report = json.loads(out.read_text())
    w = report["summary"]["witnesses"]
    assert (w["cosigned"], w["quorum"], w["quorum_met"]) == (["witness.test/w1"], 1, True)
    assert "1 of the 2 witnesses given (witness.test/w1); quorum of 1 met" in w["message"]
    assert "missing: witness.test/w2" in w["message"] and report["verification"]["status"] == "verified"
    assert _report(export, public_key_file, tmp_path / "r.html", *keys, "--witness-quorum", "1") == 0
    assert "quorum of 1 met" in (tmp_path / "r.html").read_text()
    assert _report(export, public_key_file, tmp_path / "r.csv", "--format", "csv", *keys, "--witness-quorum", "1") == 0
    rows = list(csv.DictReader((tmp_path / "r.csv").read_text().splitlines()))
    assert rows and all(r["witnesses"] == w["message"] and r["log_verification"] == "verified" for r in rows)


def test_when_the_witness_quorum_is_not_met_then_the_report_is_not_verified_and_says_why(
    tmp_path: Path, export: tuple[Path, Path], public_key_file: Path
) -> None:
    _cosigned_by_w1(export)
    keys = ("--witness-key", W1.vkey(), "--witness-key", W2.vkey())
    for fmt in ("json", "html", "csv"):
        out = tmp_path / f"report.{fmt}"
        assert _report(export, public_key_file, out, "--format", fmt, *keys) == 1
        text = out.read_text()
        assert "quorum of 2 NOT met (missing: witness.test/w2)" in text
        assert "NOT VERIFIED" in text or '"status": "failed"' in text
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["summary"]["witnesses"]["quorum_met"] is False and "controls" not in report
