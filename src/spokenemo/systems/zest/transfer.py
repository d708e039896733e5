"""The numeric steps of S2S-ZEST transfer (Eqs. 5.8-5.11) that need no model.

>>> clip_durations(np.array([10.0, 1.0, 3.0]), np.array([5, 2, 3]), 0.4).tolist()
[7, 1, 3]
"""

from __future__ import annotations

import numpy as np

from spokenemo.core.errors import ConfigError

F0_MODES = ("absolute", "relative")


def clip_durations(predicted: np.ndarray, source: np.ndarray, clip: float = 0.4) -> np.ndarray:
    """Predicted durations clipped to ``[(1 - clip) d, (1 + clip) d]`` of the source's, rounded, at least 1."""
    if not 0.0 <= clip < 1.0:
        raise ConfigError(f"duration clip must be in [0, 1), got {clip}")
    src = np.asarray(source, np.float64)
    d = np.clip(np.asarray(predicted, np.float64), (1 - clip) * src, (1 + clip) * src)
    return np.maximum(np.rint(d), 1).astype(np.int64)


def mean_log_f0(f0: np.ndarray, threshold: float = 50.0) -> float | None:
    """Mean log F0 over voiced values (>= ``threshold`` Hz), None when there is none."""
    f0 = np.asarray(f0, np.float64)
    v = f0[f0 >= threshold]
    return float(np.log(v).mean()) if v.size else None


def relative_f0(converted: np.ndarray, own_style: np.ndarray, source_actual: np.ndarray) -> np.ndarray:
    """**(ours)** ``converted`` scaled by the ratio of the source's actual mean F0 to the predictor's mean
    F0 for the source in its own style: the predictor's speaker bias is removed, the style change kept."""
    a, b = mean_log_f0(source_actual), mean_log_f0(own_style)
    if a is None or b is None:
        return np.asarray(converted, np.float32)
    return (np.asarray(converted, np.float64) * np.exp(a - b)).astype(np.float32)
