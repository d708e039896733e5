"""Calibration (spokenemo.protocols.calibration): ECE by hand, temperature scaling recovers a known
over- or under-confidence, the uncertain flag, and the student's calibration.json."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import softmax

from spokenemo.core.errors import LabelError, ModelNotFoundError
from spokenemo.protocols import compute_metrics
from spokenemo.protocols.calibration import (
    T_BOUNDS,
    UNCERTAIN_MARGIN,
    apply_temperature,
    calibrate,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    reliability_table,
    uncertain_between,
)
from spokenemo.systems.aecotd.temperature import (
    CALIBRATION_FILE,
    calibrated,
    read_temperature,
    write_calibration,
)

# confidence 0.95 (right), 0.85 (wrong), 0.65 and 0.62 (both right)
HAND = np.array([[0.95, 0.05], [0.15, 0.85], [0.35, 0.65], [0.62, 0.38]])
HAND_LABELS = [0, 0, 1, 0]


def _synthetic(scale: float, n: int = 4000, k: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from softmax(z); the "model" reports scale * z (over-confident when scale > 1)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.5, size=(n, k))
    y = np.array([rng.choice(k, p=p) for p in softmax(z, axis=1)])
    return scale * z, y


def test_ece_of_a_small_example_by_hand():
    # bins (0.9, 1]: 1 row, gap |1 - 0.95|; (0.8, 0.9]: 1 row, |0 - 0.85|; (0.6, 0.7]: 2 rows, |1 - 0.635|
    assert expected_calibration_error(HAND, HAND_LABELS) == pytest.approx((0.05 + 0.85 + 2 * 0.365) / 4)
    table = reliability_table(HAND, HAND_LABELS)
    assert [b.count for b in table] == [0, 0, 0, 0, 0, 0, 2, 0, 1, 1]
    assert (table[6].low, table[6].high) == pytest.approx((0.6, 0.7))
    assert table[6].confidence == pytest.approx(0.635) and table[6].accuracy == 1.0
    assert table[8].accuracy == 0.0 and np.isnan(table[0].confidence) and table[0].gap == 0.0
    # names work as labels with the class order given
    assert expected_calibration_error(HAND, ["a", "a", "b", "a"], classes=["a", "b"]) == pytest.approx(0.4075)


def test_bin_edges_and_perfect_calibration():
    # 0.5 falls in (0.4, 0.5], 1.0 in (0.9, 1]; 0.3 (0.1 + 0.2 in floating point) in (0.2, 0.3]
    rows = [[0.5, 0.5, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.1 + 0.2, 0.25, 0.25, 0.2]]
    table = reliability_table(rows, [0, 0, 0])
    assert [b.count for b in table] == [0, 0, 1, 0, 1, 0, 0, 0, 0, 1]
    assert expected_calibration_error([[1.0, 0.0], [0.0, 1.0]], [0, 1]) == 0.0
    assert expected_calibration_error([[0.8, 0.2]] * 10, [0] * 8 + [1] * 2) == pytest.approx(0.0)
    assert expected_calibration_error(HAND, HAND_LABELS, n_bins=1) == pytest.approx(abs(0.75 - 0.7675))


def test_temperature_above_one_fixes_over_confidence():
    logits, y = _synthetic(scale=3.0)
    t = fit_temperature(logits, y)
    assert t == pytest.approx(3.0, rel=0.15)
    before, after = softmax(logits, axis=1), apply_temperature(logits, t)
    assert negative_log_likelihood(after, y) < negative_log_likelihood(before, y) - 0.1
    assert expected_calibration_error(after, y) < expected_calibration_error(before, y) / 2
    assert (after.argmax(axis=1) == before.argmax(axis=1)).all()  # the label never changes
    # probabilities as input give the same temperature (their logs are logits up to a row constant)
    assert fit_temperature(before, y) == pytest.approx(t, rel=1e-3)


def test_temperature_below_one_fixes_under_confidence_and_calibrate_reports_both_sides():
    logits, y = _synthetic(scale=0.5, seed=1)
    fitted = calibrate(logits, y)
    assert fitted.temperature == pytest.approx(0.5, rel=0.15)
    assert fitted.nll_after < fitted.nll_before and fitted.ece_after < fitted.ece_before
    assert fitted.n == 4000 and set(fitted.to_dict()) >= {"temperature", "ece_before", "ece_after"}


def test_nll_and_apply_temperature_by_hand():
    assert negative_log_likelihood([[0.5, 0.5], [0.9, 0.1]], [0, 0]) == pytest.approx(-(np.log(0.5) + np.log(0.9)) / 2)
    # T = 2 on logits [2, 0]: softmax([1, 0]) = [e / (e + 1), 1 / (e + 1)]
    assert apply_temperature([[2.0, 0.0]], 2.0)[0] == pytest.approx([np.e / (np.e + 1), 1 / (np.e + 1)])
    assert apply_temperature(HAND, 1.0) == pytest.approx(HAND)
    # right answers only: the sharper the better, so T goes to the low end of its range
    assert T_BOUNDS[0] <= fit_temperature([[2.0, 0.0], [0.0, 1.0]], [0, 1]) < 0.1


def test_bad_inputs_are_named():
    with pytest.raises(LabelError, match="3 rows of probabilities but 2 labels"):
        expected_calibration_error(HAND[:3], [0, 1])
    with pytest.raises(LabelError, match=r"not among the classes \['a', 'b'\]: \['c'\]"):
        fit_temperature(HAND[:2], ["a", "c"], classes=["a", "b"])
    with pytest.raises(LabelError, match="k >= 2 classes"):
        fit_temperature([[1.0]], [0])
    with pytest.raises(ValueError, match="temperature must be positive"):
        apply_temperature(HAND, 0.0)


def test_uncertain_between_the_top_two():
    assert UNCERTAIN_MARGIN == 0.05
    assert uncertain_between({"angry": 0.22, "sad": 0.28, "happy": 0.26, "neutral": 0.24}) == ("sad", "happy")
    assert uncertain_between({"angry": 0.45, "sad": 0.30, "happy": 0.25}) is None
    assert uncertain_between({"angry": 0.45, "sad": 0.30}, margin=0.2) == ("angry", "sad")
    assert uncertain_between({"angry": 1.0}) is None and uncertain_between({}) is None


def test_compute_metrics_adds_ece_and_nll_only_with_full_probabilities():
    probs = [{"a": p[0], "b": p[1]} for p in HAND]
    y_true, y_pred = ["a", "a", "b", "a"], ["a", "b", "b", "a"]
    result = compute_metrics(y_true, y_pred, ["a", "b"], probabilities=probs)
    assert result.extra["ece"] == pytest.approx(0.4075)
    assert result.extra["nll"] == pytest.approx(negative_log_likelihood(HAND, HAND_LABELS))
    assert result.to_dict()["extra"]["ece"] == pytest.approx(0.4075)
    assert compute_metrics(y_true, y_pred, ["a", "b"]).extra == {}
    assert compute_metrics(y_true, y_pred, ["a", "b"], probabilities=[{}] * 4).extra == {}  # generation mode


def test_calibration_file_of_a_student(tmp_path):
    assert read_temperature(tmp_path) is None and read_temperature(None) is None
    logits, y = _synthetic(scale=3.0, n=400)
    path = write_calibration(tmp_path, calibrate(logits, y), manifest="m.jsonl", fold="fold1", part="valid")
    saved = json.loads(path.read_text())
    assert path.name == CALIBRATION_FILE and saved["fitted_on"] == {"manifest": "m.jsonl", "fold": "fold1",
                                                                     "part": "valid"}
    t = read_temperature(tmp_path)
    assert t == pytest.approx(saved["temperature"]) and t > 2
    probs = {"angry": 0.7, "happy": 0.2, "neutral": 0.06, "sad": 0.04}
    soft = calibrated(probs, t)
    assert max(soft, key=soft.get) == "angry" and soft["angry"] < 0.7 and sum(soft.values()) == pytest.approx(1)
    assert calibrated(probs, None) == probs
    (tmp_path / CALIBRATION_FILE).write_text('{"temperature": -1}')
    with pytest.raises(ModelNotFoundError, match="temperature must be positive"):
        read_temperature(tmp_path)
