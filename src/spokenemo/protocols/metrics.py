"""Classification and dimensional metrics, one definition each (plain numpy).

Definitions (as in the thesis conventions and EmoBox):

- **WA** = accuracy = correct / n.
- **UA** = unweighted average recall = balanced accuracy = mean over classes of recall.
  Classes of ``labels`` with no support in ``y_true`` are *left out of the mean* (as
  ``sklearn.metrics.balanced_accuracy_score`` and EmoBox do) and a warning names them; their
  recall is ``nan``.
- **macro-F1** = mean of per-class F1 over the classes present in ``y_true`` or ``y_pred``
  (scikit-learn's ``f1_score(average="macro")`` without ``labels``): a class predicted but never
  true counts with F1 = 0; a class absent from both is left out.
- **weighted-F1** = sum_c N_c F1_c / sum_c N_c (support-weighted).
- **CCC** = 2 rho s_g s_p / (s_p^2 + s_g^2 + (m_g - m_p)^2), population (ddof=0) moments.

A prediction outside ``labels`` (an LLM answer that is not a class) counts as wrong: it lowers
the recall of its true class and WA, appears in no confusion-matrix column, and is counted in
``n_invalid``.

Calibration (:mod:`spokenemo.protocols.calibration`): given each row's class probabilities,
:func:`compute_metrics` also records ``extra["ece"]`` (10 equal-width bins) and ``extra["nll"]``.
The experiment runner passes labels only, so its reports do not carry them.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spokenemo.core.errors import LabelError
from spokenemo.protocols.calibration import expected_calibration_error, negative_log_likelihood

SCALARS: tuple[str, ...] = ("ua", "wa", "macro_f1", "weighted_f1")


class MetricWarning(UserWarning):
    """A metric is computed over fewer classes than asked (a class has no support)."""


def _nan_to_none(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _none_to_nan(x: Any) -> float:
    return float("nan") if x is None else float(x)


@dataclass
class ClassificationResult:
    """Metrics of one set of predictions (one fold, or pooled folds).

    Attributes
    ----------
    labels : list of str
        Class order of every per-class list and of the confusion matrix.
    confusion : numpy.ndarray
        ``confusion[i, j]`` = utterances of true class i predicted as class j (valid predictions).
    invalid : numpy.ndarray
        Per true class, predictions that were not a class at all.
    ua, wa, macro_f1, weighted_f1 : float
        See the module docstring; fractions in [0, 1] (``nan`` when undefined).
    recall, precision, f1 : dict
        Per class (``nan`` when undefined: no support / no prediction).
    support : dict
        True utterances per class.
    n : int
        Utterances scored.
    protocol, fold : str, optional
        What the numbers belong to.
    """

    labels: list[str]
    confusion: np.ndarray
    invalid: np.ndarray
    ua: float
    wa: float
    macro_f1: float
    weighted_f1: float
    recall: dict[str, float]
    precision: dict[str, float]
    f1: dict[str, float]
    support: dict[str, int]
    n: int
    protocol: str | None = None
    fold: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_invalid(self) -> int:
        return int(self.invalid.sum())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``nan`` -> ``None``)."""
        return {
            "protocol": self.protocol, "fold": self.fold, "n": self.n, "n_invalid": self.n_invalid,
            "labels": list(self.labels),
            **{k: _nan_to_none(getattr(self, k)) for k in SCALARS},
            "recall": {k: _nan_to_none(v) for k, v in self.recall.items()},
            "precision": {k: _nan_to_none(v) for k, v in self.precision.items()},
            "f1": {k: _nan_to_none(v) for k, v in self.f1.items()},
            "support": dict(self.support),
            "confusion": self.confusion.astype(int).tolist(),
            "invalid": self.invalid.astype(int).tolist(),
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> ClassificationResult:
        """Rebuild from :meth:`to_dict` output (recomputes nothing)."""
        labels = list(obj["labels"])
        return cls(
            labels=labels,
            confusion=np.asarray(obj["confusion"], dtype=np.int64).reshape(len(labels), len(labels)),
            invalid=np.asarray(obj.get("invalid", [0] * len(labels)), dtype=np.int64),
            **{k: _none_to_nan(obj[k]) for k in SCALARS},
            recall={k: _none_to_nan(v) for k, v in obj["recall"].items()},
            precision={k: _none_to_nan(v) for k, v in obj["precision"].items()},
            f1={k: _none_to_nan(v) for k, v in obj["f1"].items()},
            support={k: int(v) for k, v in obj["support"].items()},
            n=int(obj["n"]), protocol=obj.get("protocol"), fold=obj.get("fold"), extra=dict(obj.get("extra", {})),
        )

    def __getitem__(self, key: str) -> Any:  # result["ua"] works as for a dict
        return self.to_dict()[key]


def confusion_matrix(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Count matrix (true x predicted, in ``labels`` order) and per-true-class invalid predictions.

    Raises :class:`LabelError` when a true label is not in ``labels`` or the lengths differ.
    """
    labels = list(labels)
    if len(set(labels)) != len(labels):
        raise LabelError(f"labels repeat a class: {labels}")
    if len(y_true) != len(y_pred):
        raise LabelError(f"y_true has {len(y_true)} items, y_pred {len(y_pred)}")
    index = {name: i for i, name in enumerate(labels)}
    cm = np.zeros((len(labels), len(labels)), dtype=np.int64)
    invalid = np.zeros(len(labels), dtype=np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        if t not in index:
            raise LabelError(f"true label {t!r} is not one of the labels {labels}",
                             hint="apply the protocol's label set to the manifest before scoring")
        j = index.get(p)
        if j is None:
            invalid[index[t]] += 1
        else:
            cm[index[t], j] += 1
    return cm, invalid


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(num.shape, np.nan, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def metrics_from_confusion(cm: np.ndarray, labels: Sequence[str], invalid: np.ndarray | None = None, *,
                           protocol: str | None = None, fold: str | None = None,
                           warn: bool = True) -> ClassificationResult:
    """All classification metrics from a confusion matrix (see the module docstring).

    Parameters
    ----------
    cm : array, shape (K, K)
        True x predicted counts.
    labels : sequence of str
        The K class names.
    invalid : array, shape (K,), optional
        Per true class, predictions outside the classes (count as errors).
    protocol, fold : str, optional
        Tags stored in the result.
    warn : bool
        Emit a :class:`MetricWarning` for classes without support.
    """
    cm = np.asarray(cm, dtype=np.int64)
    labels = list(labels)
    k = len(labels)
    if cm.shape != (k, k):
        raise LabelError(f"confusion matrix has shape {cm.shape}, expected ({k}, {k}) for labels {labels}")
    invalid = np.zeros(k, dtype=np.int64) if invalid is None else np.asarray(invalid, dtype=np.int64)
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1) + invalid
    predicted = cm.sum(axis=0)
    n = int(support.sum())
    recall = _safe_div(tp, support)
    precision = _safe_div(tp, predicted)
    # F1 = 2 tp / (support + predicted); 0 when the class is in truth or predictions but never right.
    f1 = _safe_div(2 * tp, (support + predicted).astype(np.float64))
    present = support > 0
    if warn and not present.all() and n > 0:
        absent = [lab for lab, p in zip(labels, present, strict=True) if not p]
        warnings.warn(f"classes with no true utterances are left out of UA: {absent}", MetricWarning, stacklevel=3)
    ua = float(np.mean(recall[present])) if present.any() else float("nan")
    wa = float(tp.sum() / n) if n else float("nan")
    in_play = (support + predicted) > 0
    macro_f1 = float(np.mean(f1[in_play])) if in_play.any() else float("nan")
    weighted_f1 = float(np.sum(np.nan_to_num(f1) * support) / n) if n else float("nan")
    return ClassificationResult(
        labels=labels, confusion=cm, invalid=invalid, ua=ua, wa=wa, macro_f1=macro_f1, weighted_f1=weighted_f1,
        recall=dict(zip(labels, recall.tolist(), strict=True)),
        precision=dict(zip(labels, precision.tolist(), strict=True)),
        f1=dict(zip(labels, f1.tolist(), strict=True)),
        support={lab: int(s) for lab, s in zip(labels, support, strict=True)},
        n=n, protocol=protocol, fold=fold,
    )


def compute_metrics(y_true: Iterable[str], y_pred: Iterable[str], labels: Sequence[str], *,
                    protocol: str | None = None, fold: str | None = None,
                    probabilities: Sequence[Mapping[str, float]] | None = None) -> ClassificationResult:
    """UA, WA, macro-F1, weighted-F1, per-class recall/precision/F1 and the confusion matrix.

    Parameters
    ----------
    y_true : iterable of str
        True classes; each must be in ``labels``.
    y_pred : iterable of str
        Predicted classes; one outside ``labels`` counts as wrong (see ``n_invalid``).
    labels : sequence of str
        Class order (a :class:`~spokenemo.protocols.labels.LabelSet` works).
    protocol, fold : str, optional
        Tags carried by the result so every number names where it comes from.
    probabilities : sequence of {label: p}, optional
        Each row's class probabilities; when every row has all of ``labels``, ``extra`` gets
        ``ece`` and ``nll`` (:mod:`spokenemo.protocols.calibration`).

    Returns
    -------
    ClassificationResult
    """
    y_true, y_pred = list(y_true), list(y_pred)
    if not y_true:
        raise LabelError("no predictions to score (y_true is empty)")
    cm, invalid = confusion_matrix(y_true, y_pred, list(labels))
    result = metrics_from_confusion(cm, list(labels), invalid, protocol=protocol, fold=fold)
    if probabilities is not None:
        result.extra.update(calibration_metrics(y_true, probabilities, labels))
    return result


def calibration_metrics(y_true: Sequence[str], probabilities: Sequence[Mapping[str, float]],
                        labels: Sequence[str]) -> dict[str, float]:
    """``{"ece": ..., "nll": ...}`` of per-row probabilities; empty when a row lacks a class or a count differs."""
    labels = list(labels)
    if len(probabilities) != len(y_true) or any(set(labels) - set(p) for p in probabilities):
        return {}
    matrix = np.array([[p[c] for c in labels] for p in probabilities], dtype=np.float64)
    return {"ece": expected_calibration_error(matrix, y_true, classes=labels),
            "nll": negative_log_likelihood(matrix, y_true, labels)}


@dataclass
class AggregateResult:
    """Metrics over several folds (or seeds).

    Attributes
    ----------
    per_fold : list of ClassificationResult
    mean, std : dict
        Mean and standard deviation (``ddof`` as asked) of each scalar metric over folds
        (folds where the metric is ``nan`` are skipped).
    recall_mean : dict
        Per-class recall averaged over the folds where the class had support.
    pooled : ClassificationResult
        Metrics of the summed confusion matrix (all test utterances at once).
    ddof : int
    """

    per_fold: list[ClassificationResult]
    mean: dict[str, float]
    std: dict[str, float]
    recall_mean: dict[str, float]
    pooled: ClassificationResult
    ddof: int = 0

    @property
    def n_folds(self) -> int:
        return len(self.per_fold)

    def summary(self, metric: str = "ua", scale: float = 100.0) -> str:
        """``"63.9 ± 9.1"``-style text of one metric."""
        return f"{self.mean[metric] * scale:.1f} ± {self.std[metric] * scale:.1f}"

    def to_dict(self) -> dict[str, Any]:
        return {"n_folds": self.n_folds, "ddof": self.ddof,
                "mean": {k: _nan_to_none(v) for k, v in self.mean.items()},
                "std": {k: _nan_to_none(v) for k, v in self.std.items()},
                "recall_mean": {k: _nan_to_none(v) for k, v in self.recall_mean.items()},
                "pooled": self.pooled.to_dict(), "per_fold": [r.to_dict() for r in self.per_fold]}


def aggregate_metrics(results: Sequence[ClassificationResult], *, ddof: int = 0) -> AggregateResult:
    """Mean ± std of per-fold metrics, per-class mean recall, and pooled-confusion metrics.

    Parameters
    ----------
    results : sequence of ClassificationResult
        One per fold, all with the same ``labels`` order and ``protocol``.
    ddof : int
        Delta degrees of freedom of the std: 0 (default, population std as ``numpy.std``) or 1
        (sample std). Say which one a report uses.
    """
    if not results:
        raise LabelError("no fold results to aggregate")
    labels = results[0].labels
    for r in results[1:]:
        if r.labels != labels:
            raise LabelError(f"fold {r.fold!r} uses labels {r.labels}, fold {results[0].fold!r} uses {labels}",
                             hint="score every fold with the same label order")
    protocols = {r.protocol for r in results}
    if len(protocols) > 1:
        raise LabelError(f"results of different protocols cannot be aggregated: {sorted(map(str, protocols))}")
    mean, std = {}, {}
    for name in SCALARS:
        vals = np.array([getattr(r, name) for r in results], dtype=np.float64)
        vals = vals[~np.isnan(vals)]
        mean[name] = float(vals.mean()) if vals.size else float("nan")
        std[name] = float(vals.std(ddof=ddof)) if vals.size > ddof else float("nan")
    recall_mean = {}
    for lab in labels:
        vals = np.array([r.recall[lab] for r in results], dtype=np.float64)
        vals = vals[~np.isnan(vals)]
        recall_mean[lab] = float(vals.mean()) if vals.size else float("nan")
    cm = np.sum([r.confusion for r in results], axis=0)
    invalid = np.sum([r.invalid for r in results], axis=0)
    pooled = metrics_from_confusion(cm, labels, invalid, protocol=results[0].protocol, fold="pooled")
    return AggregateResult(per_fold=list(results), mean=mean, std=std, recall_mean=recall_mean, pooled=pooled,
                           ddof=ddof)


def ccc(y_true: Sequence[float] | np.ndarray, y_pred: Sequence[float] | np.ndarray) -> float:
    """Concordance correlation coefficient of two real-valued sequences (e.g. arousal).

    Uses population moments (ddof=0). Returns ``nan`` with a :class:`MetricWarning` when it is
    undefined (both sequences constant and equal).
    """
    g = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(y_pred, dtype=np.float64).ravel()
    if g.shape != p.shape:
        raise ValueError(f"y_true has {g.size} values, y_pred {p.size}")
    if g.size < 2:
        raise ValueError(f"CCC needs at least 2 values, got {g.size}")
    if not (np.isfinite(g).all() and np.isfinite(p).all()):
        raise ValueError("CCC inputs contain NaN or infinite values")
    mg, mp = g.mean(), p.mean()
    cov = np.mean((g - mg) * (p - mp))
    den = g.var() + p.var() + (mg - mp) ** 2
    if den == 0:
        warnings.warn("CCC is undefined for two equal constant sequences", MetricWarning, stacklevel=2)
        return float("nan")
    return float(2 * cov / den)
