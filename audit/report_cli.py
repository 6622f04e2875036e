"""The ``gateway-audit report`` options and output: framework, scope (--tenant, --since, --until) and format."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from audit.report import build_report
from audit.report_csv import render_csv
from audit.report_frameworks import FRAMEWORKS
from audit.report_html import render_html
from audit.report_scope import ReportScope
from audit.verify import VerificationResult

FORMATS = ("html", "json", "csv")


def add_report_options(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--framework", choices=sorted(FRAMEWORKS), default="nist-ai-rmf",
                     help="the mapping: NIST AI RMF 1.0, EU AI Act Art. 12/19 or ISO/IEC 42001 A.6.2.8")
    cmd.add_argument("--out", required=True, help="the report file to write")
    cmd.add_argument("--format", choices=FORMATS, default="html")
    cmd.add_argument("--tenant", help="report on this tenant's entries (and the platform-wide ones) only")
    cmd.add_argument("--since", help="first moment covered, UTC: 2025-01-31 or 2025-01-31T13:45:30Z")
    cmd.add_argument("--until", help="last moment covered, inclusive (a date covers its whole day)")


def write_report(
    args: argparse.Namespace, leaves: list[bytes], checkpoint: str, result: VerificationResult | None,
    failure: str | None, out: TextIO, witnesses: dict[str, Any] | None = None,
) -> int:
    """Build, render and write the report; 1 when the log did not verify (the report then says only that)."""
    scope = ReportScope.parse(args.tenant, args.since, args.until)
    report = build_report(leaves, result, failure, scope=scope, framework=args.framework, checkpoint=checkpoint,
                          witnesses=witnesses)
    if args.format == "json":
        body = json.dumps(report, indent=2, sort_keys=True) + "\n"
    elif args.format == "csv":
        body = render_csv(report)
    else:
        body = render_html(report)
    with open(args.out, "w", encoding="utf-8", newline="") as f:
        f.write(body)
    if failure:
        out.write(f"report written to {args.out}, but the log did NOT verify: {failure}\n")
        return 1
    out.write(f"report written to {args.out} ({report['summary']['entries']} entries in scope "
              f"{scope.as_dict()['tenant']}, of {len(leaves)} verified)\n")
    return 0
