"""Standardising feature rows: global training statistics, or each speaker's own statistics.

The rule (:class:`Standardiser`, ``speaker_min_segments = N``):

- **global**: every row is z-scored with the mean and (population) standard deviation of the
  *training* rows that have features;
- **per speaker**: a speaker with at least ``N`` segments with features among the rows being
  standardised (all of that speaker's segments the caller knows: every part of the task and the
  segments being predicted; labels are never read) is z-scored with that speaker's own mean and
  standard deviation; a speaker with fewer, a clip without a named speaker above all, falls back
  to the global training statistics. Which statistics each row used is returned with it
  (``"speaker"`` or ``"global"``), so a lone clip says that it fell back.

Why a minimum: speaker normalisation needs several clips per speaker that span emotions; with
one or two clips of one speaker it removes the very signal it should keep
(docs/methods/ser.md). ``N = 10`` (:data:`MIN_SPEAKER_SEGMENTS`) is the default: the corpora of
the project have 20 to 100+ segments per speaker, and ten clips of acted or natural speech
usually cover more than one emotion. A feature whose standard deviation is below ``eps`` is only
centred.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from spokenemo.core.errors import SpokenemoError

#: The default minimum number of a speaker's segments for speaker statistics.
MIN_SPEAKER_SEGMENTS = 10
SPEAKER, GLOBAL = "speaker", "global"


def row_stats(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population standard deviation of each column of ``X``."""
    return X.mean(axis=0), X.std(axis=0)


StatsOf = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass
class Standardiser:
    """Z-scoring with global training statistics, per speaker where allowed (module docstring).

    Attributes
    ----------
    speaker_min_segments : int or None
        ``N`` of the rule; None: global statistics for every row.
    stats_of : callable, optional
        ``rows -> (mean, std)`` (default: per column, :func:`row_stats`); other statistics of the
        same rows may be wanted (frame statistics from pooled rows, for instance).
    eps : float
        Standard deviations below it count as zero (the feature is only centred).
    mean, std : numpy.ndarray
        The global training statistics (set by :meth:`fit`).
    """

    speaker_min_segments: int | None = None
    stats_of: StatsOf | None = None
    eps: float = 1e-6
    mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    std: np.ndarray = field(default_factory=lambda: np.ones(0))

    def _stats(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean, std = (self.stats_of or row_stats)(X)
        return mean, np.where(std < self.eps, 1.0, std)

    def fit(self, X_train: np.ndarray) -> Standardiser:
        """Global statistics from the training rows that have features (rows with NaN are skipped)."""
        X = np.asarray(X_train, dtype=np.float64)
        ok = ~np.isnan(X).any(axis=1)
        if not ok.any():
            raise SpokenemoError("standardiser: no training row has features")
        self.mean, self.std = self._stats(X[ok])
        return self

    def row_statistics(self, X: np.ndarray, speakers: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Per row the mean and std it is to be scored with, and which they are (``"speaker"`` or
        ``"global"``). Rows with NaN count for no speaker."""
        X = np.asarray(X, dtype=np.float64)
        spk = np.asarray([str(s) for s in speakers], dtype=object)
        if len(spk) != len(X):
            raise SpokenemoError(f"standardiser: {len(X)} rows but {len(spk)} speakers")
        if not self.mean.size:
            raise SpokenemoError("standardiser: not fitted", hint="call fit() on the training rows first")
        means = np.tile(self.mean, (len(X), 1))
        stds = np.tile(self.std, (len(X), 1))
        used = [GLOBAL] * len(X)
        if self.speaker_min_segments is None:
            return means, stds, used
        ok = ~np.isnan(X).any(axis=1)
        for s in dict.fromkeys(spk.tolist()):
            rows = (spk == s) & ok
            if rows.sum() < self.speaker_min_segments:
                continue
            means[rows], stds[rows] = self._stats(X[rows])
            for i in np.flatnonzero(rows):
                used[i] = SPEAKER
        return means, stds, used

    def transform(self, X: np.ndarray, speakers: Sequence[str]) -> tuple[np.ndarray, list[str]]:
        """Standardised rows and, per row, which statistics it used (``"speaker"``/``"global"``).

        Rows with NaN stay NaN (a segment without features); they count for no speaker.
        """
        X = np.asarray(X, dtype=np.float64)
        if self.mean.shape != X.shape[1:] and self.stats_of is None:
            raise SpokenemoError(f"standardiser: fitted on {self.mean.shape} features, got rows of {X.shape[1:]}",
                                 hint="call fit() on training rows of the same features first")
        means, stds, used = self.row_statistics(X, speakers)
        return (X - means) / stds, used


def summarise(keys: Sequence[str], used: Sequence[str], *, limit: int = 50) -> dict[str, object]:
    """What a fold records: how many rows used each kind of statistics, and (up to ``limit``) the
    keys of those that fell back to the global ones."""
    fell_back = [k for k, u in zip(keys, used, strict=True) if u == GLOBAL]
    return {"speaker_stats": len(keys) - len(fell_back), "global_stats": len(fell_back),
            "fell_back": fell_back[:limit], "fell_back_truncated": len(fell_back) > limit}
