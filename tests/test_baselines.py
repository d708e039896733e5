"""Baselines: per-speaker z-scoring and the classifiers, on hand-computed and synthetic data."""

from __future__ import annotations

import numpy as np
import pytest

from spokenemo.core.errors import SpokenemoError
from spokenemo.systems.baselines.estimators import fit_predict, make_baseline, speaker_zscore


def test_speaker_zscore_hand_computed():
    X = np.array([[1.0, 5.0], [3.0, 5.0], [10.0, 0.0], [30.0, 2.0]])
    Z = speaker_zscore(X, ["a", "a", "b", "b"])
    # speaker a: mean (2, 5), std (1, 0 -> 1); speaker b: mean (20, 1), std (10, 1)
    assert Z.tolist() == [[-1.0, 0.0], [1.0, 0.0], [-1.0, -1.0], [1.0, 1.0]]
    assert X[0, 0] == 1.0  # input untouched


def test_speaker_zscore_ignores_nan_in_statistics():
    X = np.array([[1.0], [np.nan], [3.0]])
    Z = speaker_zscore(X, ["s", "s", "s"])
    assert Z[0, 0] == -1.0 and Z[2, 0] == 1.0 and np.isnan(Z[1, 0])


def test_speaker_zscore_row_count_mismatch():
    with pytest.raises(SpokenemoError, match="3 rows but 2 speakers"):
        speaker_zscore(np.zeros((3, 1)), ["a", "b"])


def _two_speakers(rng: np.random.Generator) -> tuple[np.ndarray, list[str], list[str]]:
    """Class signal +-1 on feature 0, speaker offset 50 on every feature: only speaker
    normalisation removes the offset that separates the test speaker from training."""
    X, y, spk = [], [], []
    for speaker, offset in (("train", 0.0), ("test", 50.0)):
        for label, mu in (("low", -1.0), ("high", 1.0)):
            for _ in range(40):
                X.append([mu + 0.3 * rng.standard_normal() + offset, rng.standard_normal() + offset])
                y.append(label)
                spk.append(speaker)
    return np.array(X), y, spk


def test_speaker_z_rescues_a_shifted_speaker():
    X, y, spk = _two_speakers(np.random.default_rng(0))
    tr = [i for i, s in enumerate(spk) if s == "train"]
    te = [i for i, s in enumerate(spk) if s == "test"]
    y_te = [y[i] for i in te]
    raw = fit_predict("cue-lr", {}, X[tr], [y[i] for i in tr], X[te])
    Z = speaker_zscore(X, spk)
    norm = fit_predict("cue-lr", {}, Z[tr], [y[i] for i in tr], Z[te])
    acc = lambda p: np.mean([a == b for a, b in zip(p, y_te, strict=True)])  # noqa: E731
    assert acc(raw) == 0.5  # every test utterance lies far on the "high" side
    assert acc(norm) > 0.95


def test_cue_lr_imputes_missing_values_with_training_median():
    X = np.array([[0.0, np.nan], [0.1, 1.0], [5.0, 2.0], [5.1, np.nan]])
    preds = fit_predict("cue-lr", {}, X, ["a", "a", "b", "b"], np.array([[0.05, np.nan], [5.05, 1.5]]))
    assert preds == ["a", "b"]


def test_majority_predicts_most_frequent_training_class():
    preds = fit_predict("majority", {}, None, ["sad", "sad", "happy"], [object()] * 4)
    assert preds == ["sad"] * 4


def test_tfidf_lr_learns_words():
    texts = ["i am so happy today", "happy happy joy", "this is awful and sad", "so sad and alone"]
    preds = fit_predict("tfidf-lr", {"C": 10.0}, texts, ["happy", "happy", "sad", "sad"],
                        ["what a happy day", "sad news"])
    assert preds == ["happy", "sad"]


def test_egemaps_svm_is_linear_svm_with_c_and_balanced_weights():
    model = make_baseline("egemaps-svm", {"C": 0.01})
    svm = model.steps[-1][1]
    assert type(svm).__name__ == "LinearSVC" and svm.C == 0.01 and svm.class_weight == "balanced"
    assert [name for name, _ in model.steps][:2] == ["simpleimputer", "standardscaler"]


def test_unknown_kind_and_empty_training():
    with pytest.raises(SpokenemoError, match="no baseline of kind 'svm'"):
        make_baseline("svm", {})
    with pytest.raises(SpokenemoError, match="no training utterances"):
        fit_predict("cue-lr", {}, np.zeros((0, 2)), [], np.zeros((1, 2)))
