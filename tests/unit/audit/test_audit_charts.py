"""The report's charts draw every label in full inside the picture (issue 19: small charts, clipped labels)."""

from __future__ import annotations

import math
import re

from audit.charts import CHAR_PX, horizontal_bars, stacked_bars

LONG = "2025-01-31T13:00Z-a-long-bucket-label"


def _size(svg: str) -> tuple[float, float]:
    m = re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg)
    assert m is not None
    return float(m.group(1)), float(m.group(2))


def test_when_labels_are_long_then_rotated_bar_labels_end_inside_the_picture() -> None:
    svg = stacked_bars("Entries per hour", ["a", LONG], {"allow": [1, 2], "a-long-series-name": [3, 0]})
    width, height = _size(svg)
    for x, y, text in re.findall(r'<text x="([\d.]+)" y="([\d.]+)" transform="rotate\(45[^"]*\)">([^<]*)<', svg):
        reach = len(text) * CHAR_PX * math.cos(math.radians(45))
        assert float(x) + reach <= width and float(y) + reach <= height, text
    assert f">{LONG}<" in svg  # drawn in full, not cut to its last characters
    for x, text in re.findall(r'<text x="([\d.]+)" y="[\d.]+">([^<]*)<', svg):
        assert float(x) + len(text) * CHAR_PX <= width, text


def test_when_entity_names_are_long_then_horizontal_labels_start_inside_the_picture() -> None:
    names = ["US_DRIVER_LICENSE_NUMBER", "EMAIL_ADDRESS"]
    svg = horizontal_bars("PII", names, {"block": [3, 0], "redact": [1, 40]})
    width, _ = _size(svg)
    for x, text in re.findall(r'<text x="([\d.]+)" y="[\d.]+" text-anchor="end">([^<]*)<', svg):
        assert float(x) - len(text) * CHAR_PX >= 0, text
    for x, text in re.findall(r'<text x="([\d.]+)" y="[\d.]+">([^<]*)<', svg):
        assert float(x) + len(text) * CHAR_PX <= width, text
