"""The ``probe`` head of ``ser``: logistic regression on flattened, standardised pooled features.

The baseline of reference-numbers.md ("frozen Whisper, mean+std pooled, logistic regression"):
scikit-learn's ``LogisticRegression`` (lbfgs, multinomial, ``C``, balanced class weights) on
the features the system has standardised (globally or per speaker). Deterministic: every seed
gives the same model. Saved as plain arrays (no pickle).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

PROBE_FILE = "probe.npz"


@dataclass
class Probe:
    """A fitted linear probe: ``softmax(X @ coef.T + intercept)`` over ``classes``."""

    coef: np.ndarray
    intercept: np.ndarray
    classes: list[str]

    @classmethod
    def fit(cls, X: np.ndarray, y: Sequence[str], *, C: float, seed: int = 0) -> Probe:
        model = LogisticRegression(C=C, class_weight="balanced", max_iter=5000, random_state=seed)
        model.fit(X, list(y))
        coef, intercept = model.coef_, model.intercept_
        if coef.shape[0] == 1:  # two classes: scikit-learn keeps one row; write both
            coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
        return cls(coef, intercept, [str(c) for c in model.classes_])

    def probabilities(self, X: np.ndarray) -> np.ndarray:
        """``(n, n_classes)``; rows of ``X`` with NaN give NaN rows."""
        z = np.asarray(X, dtype=np.float64) @ self.coef.T + self.intercept
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def save(self, folder: Path) -> None:
        np.savez(folder / PROBE_FILE, coef=self.coef, intercept=self.intercept, classes=np.array(self.classes))

    @classmethod
    def load(cls, folder: Path) -> Probe:
        data = np.load(folder / PROBE_FILE)
        return cls(data["coef"], data["intercept"], [str(c) for c in data["classes"]])
