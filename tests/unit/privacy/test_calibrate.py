"""pick_sigma: least measured noise meeting the target, interpolated, failing closed beyond the data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.errors import ConfigurationError
from gateway.privacy.calibrate import DEFAULT_CURVE_FILE, CurvePoint, load_curve, pick_sigma

CURVE = {
    "points": [
        {"sigma": 0.0, "bow_f1": 0.52, "recall_at_10": 1.0},
        {"sigma": 0.05, "bow_f1": 0.41, "recall_at_10": 0.72},
        {"sigma": 0.01, "bow_f1": 0.53, "recall_at_10": 0.94},
        {"sigma": 0.1, "bow_f1": 0.22, "recall_at_10": 0.5},
    ]
}


def test_when_target_above_clean_f1_then_sigma_zero() -> None:
    assert pick_sigma(CURVE, 0.6) == 0.0


def test_when_target_met_exactly_at_a_point_then_that_sigma() -> None:
    assert pick_sigma(CURVE, 0.41) == pytest.approx(0.05)


def test_when_target_between_points_then_sigma_interpolated() -> None:
    # between (0.05, 0.41) and (0.1, 0.22): 0.315 is halfway
    assert pick_sigma(CURVE, 0.315) == pytest.approx(0.075)


def test_when_target_below_every_measurement_then_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        pick_sigma(CURVE, 0.1)


def test_when_given_points_unsorted_then_sorted_by_sigma() -> None:
    points = [CurvePoint(0.1, 0.2, 0.5), CurvePoint(0.0, 0.5, 1.0)]
    assert pick_sigma(points, 0.35) == pytest.approx(0.05)


def test_when_curve_malformed_then_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        pick_sigma({"points": [{"sigma": 0.1}]}, 0.3)
    with pytest.raises(ConfigurationError):
        pick_sigma({"points": []}, 0.3)
    bad = tmp_path / "curve.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigurationError):
        load_curve(bad)


def test_when_curve_file_round_trips_then_same_choice(tmp_path: Path) -> None:
    path = tmp_path / "curve.json"
    path.write_text(json.dumps(CURVE), encoding="utf-8")
    assert pick_sigma(load_curve(path), 0.315) == pytest.approx(0.075)


@pytest.mark.skipif(not DEFAULT_CURVE_FILE.exists(), reason="the benchmark has not written the curve yet")
def test_when_shipped_curve_loaded_then_it_is_usable() -> None:
    points = load_curve()
    assert points[0].sigma == 0.0
    assert pick_sigma(points, points[0].bow_f1) == 0.0
