"""Pick a collection's sigma from the measured risk curve (``bench/inversion.py`` writes ``data/curve.json``).

The curve is measured, not derived: formal epsilon at useful noise is too large to guide a choice, so the
operator states the attack success they accept (bag-of-words inversion F1) and gets the least noise, hence the
best search quality, that the benchmark showed meets it. Between measured points sigma is interpolated
linearly; beyond the last point there is no evidence, so the call fails closed rather than extrapolate.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.errors import ConfigurationError

DEFAULT_CURVE_FILE = Path(__file__).parent / "data" / "curve.json"


@dataclass(frozen=True)
class CurvePoint:
    sigma: float
    bow_f1: float
    recall_at_10: float
    name_accuracy: float | None = None


def parse_curve(document: Mapping[str, Any]) -> list[CurvePoint]:
    """The ``points`` of a curve document, sorted by sigma."""
    try:
        points = [
            CurvePoint(
                sigma=float(p["sigma"]),
                bow_f1=float(p["bow_f1"]),
                recall_at_10=float(p["recall_at_10"]),
                name_accuracy=None if p.get("name_accuracy") is None else float(p["name_accuracy"]),
            )
            for p in document["points"]
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigurationError("the privacy curve is malformed") from exc
    if not points:
        raise ConfigurationError("the privacy curve has no points")
    return sorted(points, key=lambda p: p.sigma)


def load_curve(path: Path = DEFAULT_CURVE_FILE) -> list[CurvePoint]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigurationError(f"the privacy curve {path.name} cannot be read") from exc
    return parse_curve(document)


def pick_sigma(curve: Sequence[CurvePoint] | Mapping[str, Any], target_f1: float) -> float:
    """The smallest sigma whose measured (or interpolated) inversion F1 is at most ``target_f1``.

    Raises ``ConfigurationError`` if no measured sigma meets the target.
    """
    points = parse_curve(curve) if isinstance(curve, Mapping) else sorted(curve, key=lambda p: p.sigma)
    if not points:
        raise ConfigurationError("the privacy curve has no points")
    previous: CurvePoint | None = None
    for point in points:
        if point.bow_f1 <= target_f1:
            if previous is None or previous.bow_f1 <= point.bow_f1:
                return point.sigma
            # F1 falls from above the target to at or below it between the two points: interpolate.
            fraction = (previous.bow_f1 - target_f1) / (previous.bow_f1 - point.bow_f1)
            return previous.sigma + fraction * (point.sigma - previous.sigma)
        previous = point
    raise ConfigurationError(
        f"no measured sigma reaches bag-of-words F1 <= {target_f1:.3f} "
        f"(lowest measured {min(p.bow_f1 for p in points):.3f})"
    )
