"""The scikit-learn estimators of the baseline systems (:mod:`spokenemo.systems.baselines`).

Each baseline is a scikit-learn estimator built by :func:`make_baseline`; everything that learns
from data (imputation, standardisation, the classifier) is fitted on the training part of the
fold only. The one exception is the optional per-speaker z-scoring (:func:`speaker_zscore`),
which standardises each speaker with that speaker's own mean and std over *all* of their
utterances, labels unused: the speaker normalisation of the reference numbers in docs/results.md
(transductive on the test speakers' features, never on their labels).

>>> X = np.array([[1.0], [3.0], [10.0], [30.0]])
>>> speaker_zscore(X, ["a", "a", "b", "b"]).ravel().tolist()
[-1.0, 1.0, -1.0, 1.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from spokenemo.core.errors import SpokenemoError


def speaker_zscore(X: np.ndarray, speakers: Sequence[str], *, eps: float = 1e-8) -> np.ndarray:
    """Standardise the rows of each speaker with that speaker's mean and (population) std.

    Parameters
    ----------
    X : array, shape (n, d)
        Features; NaN values are ignored in the statistics and stay NaN.
    speakers : sequence of str
        Speaker identity of each row.
    eps : float
        A feature whose std is below ``eps`` for a speaker is only centred (divided by 1).

    Returns
    -------
    numpy.ndarray
        A new array of the same shape.
    """
    X = np.asarray(X, dtype=np.float64)
    spk = np.asarray(list(speakers), dtype=object)
    if len(spk) != X.shape[0]:
        raise SpokenemoError(f"speaker_zscore: {X.shape[0]} rows but {len(spk)} speakers")
    out = np.empty_like(X)
    for s in dict.fromkeys(spk.tolist()):
        rows = spk == s
        block = X[rows]
        with np.errstate(all="ignore"):
            mean = np.nanmean(block, axis=0) if block.size else np.zeros(X.shape[1])
            std = np.nanstd(block, axis=0)
        mean = np.where(np.isnan(mean), 0.0, mean)
        std = np.where(np.isnan(std) | (std < eps), 1.0, std)
        out[rows] = (block - mean) / std
    return out


def make_baseline(kind: str, options: dict[str, Any], seed: int = 0) -> Any:
    """A fresh, unfitted scikit-learn pipeline for a baseline kind.

    Parameters
    ----------
    kind : str
        ``"cue-lr"``, ``"egemaps-svm"``, ``"majority"`` or ``"tfidf-lr"``
        (the registered baseline systems of :mod:`spokenemo.systems.baselines`).
    options : dict
        The system's options (``C``, ``ngram_max``, ``min_df``).
    seed : int
        Random state of estimators that have one.

    Returns
    -------
    sklearn.pipeline.Pipeline or estimator
        Numeric kinds impute missing values with the training median, then standardise with
        the training mean and std, then classify with balanced class weights.
    """
    if kind == "cue-lr":
        return make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler(),
                             LogisticRegression(C=float(options.get("C", 1.0)), class_weight="balanced",
                                                max_iter=5000, random_state=seed))
    if kind == "egemaps-svm":
        return make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler(),
                             LinearSVC(C=float(options.get("C", 0.01)), class_weight="balanced", max_iter=20000,
                                       random_state=seed))
    if kind == "majority":
        return DummyClassifier(strategy="most_frequent")
    if kind == "tfidf-lr":
        return make_pipeline(
            TfidfVectorizer(ngram_range=(1, int(options.get("ngram_max", 2))), min_df=int(options.get("min_df", 1)),
                            sublinear_tf=True, lowercase=True),
            LogisticRegression(C=float(options.get("C", 1.0)),
                               class_weight="balanced" if options.get("balanced", True) else None, max_iter=5000,
                               random_state=seed))
    raise SpokenemoError(f"no baseline of kind {kind!r}", hint="kinds: cue-lr, egemaps-svm, majority, tfidf-lr")


def fit_predict(kind: str, options: dict[str, Any], X_train: Any, y_train: Sequence[str], X_test: Any,
                *, seed: int = 0) -> list[str]:
    """Fit a baseline on the training part and return its predictions for the test part.

    ``X_*`` are feature matrices (numeric kinds) or lists of transcripts (``tfidf-lr``); the
    majority baseline ignores them.

    Raises
    ------
    SpokenemoError
        The training part is empty.
    """
    if len(y_train) == 0:
        raise SpokenemoError(f"{kind}: no training utterances")
    model = make_baseline(kind, options, seed)
    if kind == "majority":
        X_train = np.zeros((len(y_train), 1))
        X_test = np.zeros((len(X_test), 1))
    model.fit(X_train, list(y_train))
    return [str(p) for p in model.predict(X_test)]
