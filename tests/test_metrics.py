"""Metrics against scikit-learn and hand-computed values; aggregation; CCC; confusion plot."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from matplotlib.image import imread
from sklearn import metrics as skm

from spokenemo.core.errors import LabelError
from spokenemo.protocols import (
    ClassificationResult,
    MetricWarning,
    aggregate_metrics,
    ccc,
    compute_metrics,
    plot_confusion,
    row_percentages,
)

LABELS = ["angry", "happy", "neutral", "sad"]


def test_hand_computed_example():
    y_true = ["a", "a", "a", "b", "b", "c"]
    y_pred = ["a", "a", "b", "b", "c", "c"]
    r = compute_metrics(y_true, y_pred, ["a", "b", "c"], protocol="toy", fold="f1")
    assert r.recall == pytest.approx({"a": 2 / 3, "b": 1 / 2, "c": 1.0})
    assert r.ua == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    assert r.wa == pytest.approx(4 / 6)
    f1 = {"a": 0.8, "b": 0.5, "c": 2 / 3}
    assert r.f1 == pytest.approx(f1)
    assert r.macro_f1 == pytest.approx(sum(f1.values()) / 3)
    assert r.weighted_f1 == pytest.approx((3 * 0.8 + 2 * 0.5 + 1 * 2 / 3) / 6)
    assert r.confusion.tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert r.support == {"a": 3, "b": 2, "c": 1} and r.n == 6
    assert (r.protocol, r.fold) == ("toy", "f1")


@pytest.mark.parametrize("seed", range(8))
def test_matches_sklearn_on_random_predictions(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 200))
    y_true = list(rng.choice(LABELS, size=n, p=[0.4, 0.3, 0.2, 0.1]))
    # Correct with probability 0.5, otherwise uniform: an imperfect, unbalanced classifier.
    y_pred = [t if rng.random() < 0.5 else str(rng.choice(LABELS)) for t in y_true]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn/us may warn when a rare class is missing
        r = compute_metrics(y_true, y_pred, LABELS)
        assert r.ua == pytest.approx(skm.balanced_accuracy_score(y_true, y_pred))
        assert r.wa == pytest.approx(skm.accuracy_score(y_true, y_pred))
        assert r.macro_f1 == pytest.approx(skm.f1_score(y_true, y_pred, average="macro", zero_division=0))
        assert r.weighted_f1 == pytest.approx(skm.f1_score(y_true, y_pred, average="weighted", zero_division=0))
        present = [lab for lab in LABELS if lab in y_true]
        recall = skm.recall_score(y_true, y_pred, labels=present, average=None, zero_division=0)
    assert [r.recall[lab] for lab in present] == pytest.approx(list(recall))
    assert r.confusion.tolist() == skm.confusion_matrix(y_true, y_pred, labels=LABELS).tolist()


def test_class_absent_from_predictions():
    y_true = ["angry", "angry", "sad", "sad", "happy"]
    y_pred = ["angry", "sad", "sad", "sad", "angry"]  # happy never predicted
    r = compute_metrics(y_true, y_pred, ["angry", "happy", "sad"])
    assert r.recall["happy"] == 0.0 and r.f1["happy"] == 0.0
    assert math.isnan(r.precision["happy"])  # undefined, not 0
    assert r.ua == pytest.approx(skm.balanced_accuracy_score(y_true, y_pred))
    assert r.macro_f1 == pytest.approx(skm.f1_score(y_true, y_pred, average="macro", zero_division=0))


def test_class_absent_from_truth_is_left_out_of_ua_with_a_warning():
    y_true = ["angry", "angry", "sad", "sad"]
    y_pred = ["angry", "happy", "sad", "sad"]
    with pytest.warns(MetricWarning, match=r"left out of UA: \['happy', 'neutral'\]"):
        r = compute_metrics(y_true, y_pred, LABELS)
    assert math.isnan(r.recall["happy"]) and math.isnan(r.recall["neutral"])
    assert r.ua == pytest.approx((0.5 + 1.0) / 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert r.ua == pytest.approx(skm.balanced_accuracy_score(y_true, y_pred))
    # happy was predicted but never true: F1 0 and counted; neutral is in neither: left out.
    assert r.f1["happy"] == 0.0 and math.isnan(r.f1["neutral"])
    assert r.macro_f1 == pytest.approx(skm.f1_score(y_true, y_pred, average="macro", zero_division=0))
    assert r.weighted_f1 == pytest.approx(skm.f1_score(y_true, y_pred, average="weighted", zero_division=0))


def test_invalid_predictions_count_as_wrong():
    y_true = ["angry", "happy", "happy", "sad", "neutral", "neutral"]
    y_pred = ["angry", "I think happy", "happy", "sad", "neutral", ""]
    r = compute_metrics(y_true, y_pred, LABELS)
    assert r.n_invalid == 2 and r.invalid.tolist() == [0, 1, 1, 0]
    assert r.confusion.sum() == 4 and r.n == 6
    assert r.wa == pytest.approx(4 / 6)
    # Same as scikit-learn with the invalid answers mapped to a label outside the class list.
    mapped = [p if p in LABELS else "__invalid__" for p in y_pred]
    assert [r.recall[lab] for lab in LABELS] == pytest.approx(
        list(skm.recall_score(y_true, mapped, labels=LABELS, average=None)))
    assert [r.f1[lab] for lab in LABELS] == pytest.approx(
        list(skm.f1_score(y_true, mapped, labels=LABELS, average=None)))
    assert r.ua == pytest.approx((1 + 0.5 + 0.5 + 1) / 4)


def test_bad_inputs():
    with pytest.raises(LabelError, match="true label 'calm' is not one of the labels"):
        compute_metrics(["calm"], ["calm"], LABELS)
    with pytest.raises(LabelError, match="y_true has 2 items, y_pred 1"):
        compute_metrics(["sad", "sad"], ["sad"], LABELS)
    with pytest.raises(LabelError, match="empty"):
        compute_metrics([], [], LABELS)
    with pytest.raises(LabelError, match="repeat"):
        compute_metrics(["sad"], ["sad"], ["sad", "sad"])


def test_result_json_roundtrip():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = compute_metrics(["angry", "sad"], ["angry", "bogus"], LABELS, protocol="p", fold="f")
    d = json.loads(json.dumps(r.to_dict()))  # nan became null, so it is valid JSON
    assert d["recall"]["happy"] is None and d["ua"] == pytest.approx(0.5) and d["n_invalid"] == 1
    back = ClassificationResult.from_dict(d)
    assert back.confusion.tolist() == r.confusion.tolist() and back.invalid.tolist() == r.invalid.tolist()
    assert math.isnan(back.recall["happy"]) and back.ua == r.ua and back.fold == "f"
    assert r["wa"] == pytest.approx(0.5)


def test_aggregate_folds():
    f1 = compute_metrics(["a", "a", "b", "b"], ["a", "a", "b", "a"], ["a", "b"], protocol="p", fold="1")
    f2 = compute_metrics(["a", "b", "b", "b", "b", "b"], ["b", "b", "b", "b", "b", "b"], ["a", "b"], protocol="p",
                         fold="2")
    agg = aggregate_metrics([f1, f2])
    # fold UAs: (1 + 0.5)/2 = 0.75 and (0 + 1)/2 = 0.5
    assert agg.mean["ua"] == pytest.approx(0.625) and agg.std["ua"] == pytest.approx(0.125)
    assert aggregate_metrics([f1, f2], ddof=1).std["ua"] == pytest.approx(0.125 * math.sqrt(2))
    assert agg.mean["wa"] == pytest.approx((3 / 4 + 5 / 6) / 2)
    assert agg.recall_mean == pytest.approx({"a": 0.5, "b": 0.75})
    assert agg.pooled.confusion.tolist() == (f1.confusion + f2.confusion).tolist()
    pooled = compute_metrics(["a", "a", "b", "b", "a", "b", "b", "b", "b", "b"],
                             ["a", "a", "b", "a", "b", "b", "b", "b", "b", "b"], ["a", "b"])
    assert agg.pooled.ua == pytest.approx(pooled.ua) and agg.pooled.fold == "pooled"
    assert agg.n_folds == 2 and agg.summary("ua") == "62.5 ± 12.5"
    assert json.loads(json.dumps(agg.to_dict()))["mean"]["ua"] == pytest.approx(0.625)


def test_aggregate_rejects_mismatched_folds():
    a = compute_metrics(["a", "b"], ["a", "a"], ["a", "b"], protocol="p")
    b = compute_metrics(["a", "b"], ["a", "a"], ["b", "a"], protocol="p")
    c = compute_metrics(["a", "b"], ["a", "a"], ["a", "b"], protocol="q")
    with pytest.raises(LabelError, match="same label order"):
        aggregate_metrics([a, b])
    with pytest.raises(LabelError, match="different protocols"):
        aggregate_metrics([a, c])
    with pytest.raises(LabelError, match="no fold results"):
        aggregate_metrics([])


def test_ccc_known_values():
    assert ccc([1, 2, 3], [2, 3, 4]) == pytest.approx(4 / 7)  # cov 2/3, vars 2/3, mean gap 1
    x = np.random.default_rng(0).normal(size=500)
    assert ccc(x, x) == pytest.approx(1.0)
    assert ccc(x - x.mean(), -(x - x.mean())) == pytest.approx(-1.0)
    y = 0.5 * x + 0.3 + np.random.default_rng(1).normal(scale=0.2, size=500)
    rho = np.corrcoef(x, y)[0, 1]
    expected = 2 * rho * x.std() * y.std() / (x.var() + y.var() + (x.mean() - y.mean()) ** 2)
    assert ccc(x, y) == pytest.approx(expected)


def test_ccc_edge_cases():
    with pytest.warns(MetricWarning, match="undefined"):
        assert math.isnan(ccc([2, 2, 2], [2, 2, 2]))
    assert ccc([1, 1, 1], [2, 2, 2]) == 0.0  # constant and different: no concordance
    with pytest.raises(ValueError, match="3 values, y_pred 2"):
        ccc([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="at least 2"):
        ccc([1], [1])
    with pytest.raises(ValueError, match="NaN"):
        ccc([1, np.nan], [1, 2])


def test_row_percentages():
    cm = np.array([[3, 1], [0, 0]])
    assert row_percentages(cm).tolist() == [[75.0, 25.0], [0.0, 0.0]]
    assert row_percentages(cm, invalid=np.array([4, 0])).tolist() == [[37.5, 12.5], [0.0, 0.0]]


def test_plot_confusion_writes_png(tmp_path):
    r = compute_metrics(["angry", "happy", "sad", "neutral", "sad"], ["angry", "sad", "sad", "neutral", "x"], LABELS)
    out = plot_confusion(r.confusion, r.labels, tmp_path / "fig" / "cm.png", title="toy", invalid=r.invalid)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = imread(out)
    assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 200
    counts = plot_confusion(r.confusion, r.labels, tmp_path / "counts.png", normalize=False)
    assert counts.read_bytes() != out.read_bytes()
    assert not list(tmp_path.glob("**/*.tmp"))  # atomic write left nothing behind
    with pytest.raises(LabelError, match="expected 3 x 3"):
        plot_confusion(r.confusion, LABELS[:3], tmp_path / "bad.png")
