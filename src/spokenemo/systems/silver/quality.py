"""Silver quality: how often a labeller agrees with a gold sentiment column (MELD's).

>>> a = agreement({"a": "positive", "b": "neutral", "c": "neutral"},
...               {"a": "positive", "b": "negative", "c": "neutral", "d": "neutral"})
>>> a["n"], round(a["accuracy"], 3)
(3, 0.667)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from spokenemo.core.errors import ConfigError
from spokenemo.systems.silver.parse import SENTIMENTS


def agreement(silver: Mapping[str, str], gold: Mapping[str, str]) -> dict[str, object]:
    """Agreement of ``silver`` with ``gold`` on the keys they share.

    Returns ``n``, ``accuracy``, Cohen's ``kappa``, ``macro_f1`` (over the 3 sentiments),
    ``confusion`` (rows gold, columns silver, in :data:`SENTIMENTS` order) and the label shares.

    Raises
    ------
    ConfigError
        No key in common (the silver labels are not of the gold corpus).
    """
    keys = sorted(set(silver) & set(gold))
    if not keys:
        raise ConfigError("no silver-labelled key has a gold sentiment",
                          hint="silver quality is measured on MELD train items of the pool")
    index = {s: i for i, s in enumerate(SENTIMENTS)}
    confusion = np.zeros((3, 3), dtype=np.int64)
    for k in keys:
        confusion[index[gold[k]], index[silver[k]]] += 1
    n = confusion.sum()
    accuracy = np.trace(confusion) / n
    expected = (confusion.sum(0) * confusion.sum(1)).sum() / n**2
    kappa = (accuracy - expected) / (1 - expected) if expected < 1 else 0.0
    f1 = []
    for i in range(3):
        tp, pred, true = confusion[i, i], confusion[:, i].sum(), confusion[i].sum()
        f1.append(2 * tp / (pred + true) if pred + true else 0.0)
    return {"n": int(n), "accuracy": float(accuracy), "kappa": float(kappa), "macro_f1": float(np.mean(f1)),
            "confusion": confusion.tolist(), "labels": list(SENTIMENTS),
            "silver_share": {s: round(float(confusion[:, i].sum() / n), 4) for s, i in index.items()},
            "gold_share": {s: round(float(confusion[i].sum() / n), 4) for s, i in index.items()}}
