"""Figures for reports (matplotlib, Agg canvas: no display or pyplot state needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from spokenemo.core.errors import LabelError
from spokenemo.core.fileio import atomic_write


def row_percentages(cm: np.ndarray, invalid: np.ndarray | None = None) -> np.ndarray:
    """Each row of ``cm`` as percentages of its utterances (rows without utterances stay 0).

    ``invalid`` (per row: predictions outside the classes) is added to the row totals, so the
    diagonal is the class recall.
    """
    cm = np.asarray(cm, dtype=np.float64)
    sums = cm.sum(axis=1, keepdims=True)
    if invalid is not None:
        sums = sums + np.asarray(invalid, dtype=np.float64).reshape(-1, 1)
    out = np.zeros_like(cm)
    np.divide(cm * 100.0, sums, out=out, where=sums > 0)
    return out


def plot_confusion(cm: np.ndarray, labels: Sequence[str], path: str | Path, *, normalize: bool = True,
                   title: str | None = None, invalid: np.ndarray | None = None, dpi: int = 120) -> Path:
    """Write a confusion-matrix PNG: every cell shows its count and its row percentage.

    Parameters
    ----------
    cm : array, shape (K, K)
        True (rows) x predicted (columns) counts.
    labels : sequence of str
        Class names, in matrix order.
    path : path
        PNG file to write (atomically; parent folders are created).
    normalize : bool
        Colour cells by row percentage (recall-like; comparable across unbalanced classes)
        instead of by count. The text shows both either way.
    title : str, optional
        Figure title, e.g. ``"RAVDESS 4-class, speaker-kfold, pooled (5 folds)"``.
    invalid : array, shape (K,), optional
        Per true class, predictions that were not a class
        (:attr:`~spokenemo.protocols.metrics.ClassificationResult.invalid`): counted in the row
        totals and named next to the class ("sad (3 invalid)").
    dpi : int
        Resolution.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    cm = np.asarray(cm)
    labels = list(labels)
    if cm.ndim != 2 or cm.shape != (len(labels), len(labels)):
        raise LabelError(f"confusion matrix has shape {cm.shape}, expected {len(labels)} x {len(labels)} "
                         f"for labels {labels}")
    pct = row_percentages(cm, invalid)
    shown = pct if normalize else cm.astype(np.float64)
    k = len(labels)
    size = max(3.5, 0.9 * k + 1.8)
    fig = Figure(figsize=(size + 1.0, size), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    vmax = 100.0 if normalize else max(float(shown.max()), 1.0)
    image = ax.imshow(shown, cmap="Blues", vmin=0.0, vmax=vmax)
    cbar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    cbar.set_label("% of true class" if normalize else "utterances")
    ax.set_xticks(range(k), labels=labels, rotation=45, ha="right")
    inv = np.zeros(k, dtype=np.int64) if invalid is None else np.asarray(invalid, dtype=np.int64)
    ax.set_yticks(range(k), labels=[f"{lab} ({n} invalid)" if n else lab for lab, n in zip(labels, inv, strict=True)])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(k):
        for j in range(k):
            dark = shown[i, j] > 0.6 * vmax
            ax.text(j, i, f"{int(cm[i, j])}\n{pct[i, j]:.1f}%", ha="center", va="center", fontsize=8,
                    color="white" if dark else "black")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    path = Path(path)
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png")
    return path
