"""Shared machinery of the baselines that classify a numeric feature matrix (cue-lr, egemaps-svm).

Each such baseline reads one feature from the context's feature source for *every* segment of
the task, marks the segments without features (a file that failed: a row of NaN), optionally
z-scores each speaker with that speaker's own statistics over all of their segments
(:func:`~spokenemo.systems.baselines.estimators.speaker_zscore`, speakers by
:func:`spokenemo.core.speakers.speaker_of`; labels unused), and fits the scikit-learn pipeline of
:func:`~spokenemo.systems.baselines.estimators.make_baseline` on the training rows that have
features. A test segment without features gets no prediction (scored as wrong).
"""

from __future__ import annotations

import pickle
from abc import abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spokenemo.core.errors import SpokenemoError
from spokenemo.core.speakers import speaker_of
from spokenemo.data.manifest import Segment
from spokenemo.systems.base import Predictions, System
from spokenemo.systems.baselines.estimators import make_baseline, speaker_zscore
from spokenemo.systems.context import FoldContext, TaskContext

MODEL_FILE = "model.pkl"


class SklearnBaseline(System):
    """A registered system around one :func:`make_baseline` estimator (the kind is the system's name).

    ``save`` pickles the fitted estimator; load only folders you wrote yourself (pickle runs code).
    """

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.model: Any = None

    def _fit_estimator(self, X: Any, y: Sequence[str], seed: int) -> None:
        if len(y) == 0:
            raise SpokenemoError(f"{self.name}: no training utterances")
        self.model = make_baseline(self.name, self.config.model_dump(), seed)
        self.model.fit(X, list(y))

    def _predictions(self, X: Any, missing: Sequence[bool] | None = None) -> Predictions:
        """Decisions of the fitted estimator (probabilities where it has them); ``missing`` rows get none."""
        if self.model is None:
            raise SpokenemoError(f"system {self.name!r} is not fitted", hint="call fit() or load() first")
        labels: list[str | None] = [str(p) for p in self.model.predict(X)]
        if missing is not None:
            labels = [None if m else p for p, m in zip(labels, missing, strict=True)]
        classes = [str(c) for c in self.model.classes_]
        if not hasattr(self.model, "predict_proba"):
            return Predictions.one_hot(labels, classes)
        probs = np.asarray(self.model.predict_proba(X), dtype=np.float64)
        probs[[p is None for p in labels]] = np.nan
        return Predictions(classes, probs, labels)

    def save_state(self, folder: Path) -> None:
        if self.model is None:
            raise SpokenemoError(f"system {self.name!r} is not fitted; nothing to save")
        with open(folder / MODEL_FILE, "wb") as fh:
            pickle.dump(self.model, fh)

    def load_state(self, folder: Path) -> None:
        with open(folder / MODEL_FILE, "rb") as fh:
            self.model = pickle.load(fh)  # noqa: S301 - a folder written by save()


class NumericBaseline(SklearnBaseline):
    """A baseline on one numeric feature matrix with optional per-speaker z-scoring (``speaker_z``)."""

    needs_audio = True

    @abstractmethod
    def feature_matrix(self, segments: Sequence[Segment], context: TaskContext) -> np.ndarray:
        """The feature rows of ``segments`` (NaN rows where a segment has no features)."""

    def task_matrix(self, segments: Sequence[Segment]) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
        """Rows of every task segment (and of ``segments`` not in the task): key -> row, features
        (speaker-z-scored when asked, statistics over all those segments), and which rows failed."""
        context = self.require_context()
        everyone = list(context.segments)
        known = {u.key for u in everyone}
        everyone += [u for u in segments if u.key not in known]
        X = self.feature_matrix(everyone, context)
        failed = np.isnan(X).all(axis=1)
        if getattr(self.config, "speaker_z", False):
            X = speaker_zscore(X, [speaker_of(u) for u in everyone])
        return {u.key: i for i, u in enumerate(everyone)}, X, failed

    def fit(self, train: Sequence[Segment], valid: Sequence[Segment], context: FoldContext) -> None:
        self.context = context
        row, X, failed = self.task_matrix(train)
        tr = [row[u.key] for u in train if not failed[row[u.key]]]
        self.info["n_train_without_features"] = len(train) - len(tr)
        self._fit_estimator(X[tr], [str(u.label) for u in train if not failed[row[u.key]]], context.seed)

    def predict(self, segments: Sequence[Segment]) -> Predictions:
        row, X, failed = self.task_matrix(segments)
        rows = [row[u.key] for u in segments]
        out = self._predictions(X[rows], [bool(failed[i]) for i in rows])
        self.info["n_test_without_features"] = sum(p is None for p in out.decisions())
        return out
