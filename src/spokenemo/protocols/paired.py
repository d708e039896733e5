"""Paired differences between two systems run on the same folds and seeds.

Two rows of one experiment share folds and seeds, so the fair question is not "do their means
differ" but "by how much does A beat B on the same seed (or seed x fold), and how much does that
difference vary". :func:`paired_difference` answers it: the mean and sample standard deviation of
the per-pair differences, how many pairs, and how many favour A.

>>> d = paired_difference({0: 0.80, 1: 0.78, 2: 0.82}, {0: 0.78, 1: 0.79, 2: 0.79})
>>> round(d.mean, 3), round(d.std, 3), d.n, d.wins
(0.013, 0.021, 3, 2)
>>> d.within_spread
True
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PairedDelta:
    """``mean`` and ``std`` (ddof 1; 0 for one pair) of A - B over ``n`` shared pairs; ``wins``: pairs A beats B."""

    mean: float
    std: float
    n: int
    wins: int

    @property
    def within_spread(self) -> bool:
        """True when the mean difference is no larger than one standard deviation of the differences."""
        return abs(self.mean) <= self.std

    def describe(self, scale: float = 100.0, digits: int = 1) -> str:
        """``"+1.8 ± 2.3 (17 of 25 favour A)"`` with values multiplied by ``scale``."""
        return (f"{self.mean * scale:+.{digits}f} ± {self.std * scale:.{digits}f} "
                f"({self.wins} of {self.n} favour A)")


def paired_difference(a: Mapping[Hashable, float], b: Mapping[Hashable, float]) -> PairedDelta:
    """Differences ``a[k] - b[k]`` over the keys both have (seeds, or (seed, fold) pairs).

    Raises
    ------
    ValueError
        When the two share no key (they were not run on the same seeds or folds).
    """
    keys = [k for k in a if k in b]
    if not keys:
        raise ValueError(f"no shared seed or fold to pair: A has {sorted(map(str, a))}, B has {sorted(map(str, b))}")
    diffs = np.array([float(a[k]) - float(b[k]) for k in keys])
    std = float(diffs.std(ddof=1)) if len(diffs) > 1 else 0.0
    return PairedDelta(mean=float(diffs.mean()), std=std, n=len(diffs), wins=int((diffs > 0).sum()))
