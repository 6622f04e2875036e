"""The report as CSV: one row per evidence card (request id), then nothing else, for a spreadsheet.

Each row also carries the log's verification status and the witness status of the summary, so a row copied
elsewhere keeps what vouches for it. A report whose log did not verify has no cards: its CSV holds one row
saying so, with the witness status.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from audit.report_sections import CARD_FIELDS

COLUMNS = ("request_id", "index", "leaf_hash", *CARD_FIELDS, "model", "pii", "epsilon_radius",
           "documents_stored", "documents_blocked", "log_verification", "witnesses")


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet runs a cell starting with = + - @ as a formula; entries hold caller-influenced text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def render_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    witnesses = report["summary"]["witnesses"]["message"]
    if report["verification"]["status"] != "verified":
        writer.writerow(["verification", "message", "witnesses"])
        writer.writerow(["NOT VERIFIED", _cell(report["verification"]["message"]), _cell(witnesses)])
        return out.getvalue()
    writer.writerow(COLUMNS)
    status = {"log_verification": "verified", "witnesses": witnesses}
    for card in report["evidence_cards"]:
        writer.writerow([_cell(status[c] if c in status else card.get(c)) for c in COLUMNS])
    return out.getvalue()
