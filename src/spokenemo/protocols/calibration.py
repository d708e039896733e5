"""Calibration: do the probabilities mean what they say? Temperature scaling, ECE, reliability.

>>> probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7]])
>>> round(expected_calibration_error(probs, [0, 1, 1]), 4)
0.3333

- **Temperature scaling** (Guo et al., 2017): one number T divides the logits,
  ``p = softmax(z / T)``. It is fitted on validation predictions by minimising the negative log
  likelihood (NLL) and never changes which class is on top; T > 1 softens over-confident
  probabilities, T < 1 sharpens under-confident ones. Probabilities work as input too: their
  logarithms are logits up to a constant per row, which softmax ignores.
- **ECE** (expected calibration error) with ``n_bins`` equal-width bins over the top-class
  confidence: ``sum_b (n_b / n) |accuracy_b - confidence_b|``. Bin b holds confidences in
  ``(b / n_bins, (b + 1) / n_bins]`` (the first bin also holds 0).
- **Uncertain**: the two most likely classes differ by less than a margin
  (:data:`UNCERTAIN_MARGIN`); :func:`uncertain_between` names them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

from spokenemo.core.errors import LabelError

__all__ = ["N_BINS", "UNCERTAIN_MARGIN", "Calibration", "ReliabilityBin", "apply_temperature", "calibrate",
           "expected_calibration_error", "fit_temperature", "label_indices", "negative_log_likelihood",
           "reliability_table", "uncertain_between"]

#: Equal-width confidence bins of ECE and the reliability table.
N_BINS = 10
#: Top-two probabilities closer than this read as "uncertain between X and Y". A convention, not a
#: fitted number: with p = 0.28 against 0.26 the order of the two classes says little, with 0.45
#: against 0.30 it says something. Callers can pass their own margin.
UNCERTAIN_MARGIN = 0.05
#: Search range of the temperature (log-spaced bounds).
T_BOUNDS = (0.05, 20.0)


def _scores(values: Any, kind: str) -> np.ndarray:
    """Logits from ``values`` (n, k): as given, or the log of probabilities."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] < 2:
        raise LabelError(f"expected an (n, k) array with n >= 1 rows and k >= 2 classes, got shape {x.shape}")
    if kind == "auto":
        kind = "probabilities" if np.all(x >= 0) and np.allclose(x.sum(axis=1), 1.0, atol=1e-3) else "logits"
    if kind == "probabilities":
        return np.log(np.clip(x, 1e-12, None))
    if kind != "logits":
        raise ValueError(f"kind must be 'logits', 'probabilities' or 'auto', not {kind!r}")
    return x


def label_indices(labels: Sequence[Any], classes: Sequence[str] | None = None) -> np.ndarray:
    """``labels`` as class indices: integers as they are, names looked up in ``classes``."""
    if classes is None:
        return np.asarray(labels, dtype=np.int64)
    where = {c: i for i, c in enumerate(classes)}
    unknown = sorted({str(y) for y in labels if y not in where})
    if unknown:
        raise LabelError(f"labels not among the classes {list(classes)}: {unknown}")
    return np.array([where[y] for y in labels], dtype=np.int64)


def _checked(probs: np.ndarray, y: np.ndarray) -> None:
    if y.shape != (probs.shape[0],):
        raise LabelError(f"{probs.shape[0]} rows of probabilities but {y.size} labels")
    if y.size and (y.min() < 0 or y.max() >= probs.shape[1]):
        raise LabelError(f"label indices must be in [0, {probs.shape[1] - 1}]")


def apply_temperature(values: Any, temperature: float, *, kind: str = "auto") -> np.ndarray:
    """``softmax(logits / temperature)`` row by row (``values`` are logits or probabilities)."""
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    return np.exp(log_softmax(_scores(values, kind) / temperature, axis=1))


def negative_log_likelihood(probs: Any, labels: Sequence[Any], classes: Sequence[str] | None = None) -> float:
    """Mean ``-log p(true class)`` (probabilities clipped at 1e-12)."""
    p = np.asarray(probs, dtype=np.float64)
    y = label_indices(labels, classes)
    _checked(p, y)
    return float(-np.mean(np.log(np.clip(p[np.arange(y.size), y], 1e-12, None))))


def fit_temperature(values: Any, labels: Sequence[Any], *, classes: Sequence[str] | None = None,
                    kind: str = "auto") -> float:
    """The temperature that minimises the NLL of ``labels`` under ``softmax(logits / T)``.

    Parameters
    ----------
    values : array (n, k)
        Validation logits or probabilities (``kind="auto"`` tells them apart: rows of non-negative
        numbers summing to 1 are probabilities).
    labels : sequence
        True class per row: indices, or names with ``classes``.
    classes : sequence of str, optional
        Column order of ``values``.

    Returns
    -------
    float
        T in :data:`T_BOUNDS` (bounded search over log T).
    """
    z = _scores(values, kind)
    y = label_indices(labels, classes)
    _checked(z, y)
    rows = np.arange(y.size)

    def nll(log_t: float) -> float:
        return float(-np.mean(log_softmax(z / np.exp(log_t), axis=1)[rows, y]))

    lo, hi = np.log(T_BOUNDS[0]), np.log(T_BOUNDS[1])
    best = minimize_scalar(nll, bounds=(lo, hi), method="bounded", options={"xatol": 1e-6})
    return float(np.exp(best.x))


@dataclass(frozen=True)
class ReliabilityBin:
    """One confidence bin: its range, how many predictions fell in it, their mean confidence and accuracy."""

    low: float
    high: float
    count: int
    confidence: float
    accuracy: float

    @property
    def gap(self) -> float:
        return abs(self.accuracy - self.confidence) if self.count else 0.0


def reliability_table(probs: Any, labels: Sequence[Any], *, classes: Sequence[str] | None = None,
                      n_bins: int = N_BINS) -> list[ReliabilityBin]:
    """Equal-width bins of top-class confidence (see the module docstring); empty bins have count 0, nan means."""
    p = np.asarray(probs, dtype=np.float64)
    y = label_indices(labels, classes)
    _checked(p, y)
    confidence = p.max(axis=1)
    correct = p.argmax(axis=1) == y
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.searchsorted(edges[1:-1], confidence, side="left")
    table = []
    for b in range(n_bins):
        inside = which == b
        n = int(inside.sum())
        table.append(ReliabilityBin(low=float(edges[b]), high=float(edges[b + 1]), count=n,
                                    confidence=float(confidence[inside].mean()) if n else float("nan"),
                                    accuracy=float(correct[inside].mean()) if n else float("nan")))
    return table


def expected_calibration_error(probs: Any, labels: Sequence[Any], *, classes: Sequence[str] | None = None,
                               n_bins: int = N_BINS) -> float:
    """ECE over ``n_bins`` equal-width confidence bins (0 = perfectly calibrated)."""
    table = reliability_table(probs, labels, classes=classes, n_bins=n_bins)
    n = sum(b.count for b in table)
    return float(sum(b.count * b.gap for b in table) / n)


@dataclass(frozen=True)
class Calibration:
    """A fitted temperature and what it did on the data it was fitted on."""

    temperature: float
    n: int
    nll_before: float
    nll_after: float
    ece_before: float
    ece_after: float

    def to_dict(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "n": self.n, "nll_before": self.nll_before,
                "nll_after": self.nll_after, "ece_before": self.ece_before, "ece_after": self.ece_after}


def calibrate(values: Any, labels: Sequence[Any], *, classes: Sequence[str] | None = None,
              kind: str = "auto") -> Calibration:
    """Fit a temperature on ``values`` / ``labels`` and report NLL and ECE before and after."""
    z = _scores(values, kind)
    before = np.exp(log_softmax(z, axis=1))
    t = fit_temperature(z, labels, classes=classes, kind="logits")
    after = apply_temperature(z, t, kind="logits")
    return Calibration(temperature=t, n=int(z.shape[0]),
                       nll_before=negative_log_likelihood(before, labels, classes),
                       nll_after=negative_log_likelihood(after, labels, classes),
                       ece_before=expected_calibration_error(before, labels, classes=classes),
                       ece_after=expected_calibration_error(after, labels, classes=classes))


def uncertain_between(probabilities: Mapping[str, float], margin: float = UNCERTAIN_MARGIN) -> tuple[str, str] | None:
    """The top two classes when their probabilities differ by less than ``margin``, else None."""
    ranked = sorted(probabilities.items(), key=lambda kv: -kv[1])
    if len(ranked) < 2 or ranked[0][1] - ranked[1][1] >= margin:
        return None
    return ranked[0][0], ranked[1][0]
