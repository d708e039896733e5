"""The WORLD renderer **(ours)**: the source's envelope and aperiodicity with new durations and F0.

Each unit run of the source (``src_durations``, in 20 ms frames) is stretched or squeezed to its new
duration by resampling its 5 ms WORLD frames (nearest frame, evenly spaced), so content and voice stay
the source's while the timing follows the predicted durations. Voicing follows the warped source
frames (a voiced phone stays voiced); on voiced frames F0 is the predicted contour, where the
prediction itself is unvoiced it is interpolated from the nearest predicted voiced frames; with no
predicted voiced frame at all the warped source F0 is kept. ``pyworld.synthesize`` turns the result
into a waveform. Judging the F0 and duration modules this way keeps the vocoder's quality out of it.
"""

from __future__ import annotations

import numpy as np

from spokenemo.models.zest.pitch import PER_UNIT, WORLD_PERIOD_MS, WorldFeatures, _pyworld

#: Predicted F0 below this (Hz) counts as unvoiced.
VOICED_HZ = 50.0


def warp_index(src_durations: np.ndarray, new_durations: np.ndarray, n_world: int) -> np.ndarray:
    """Source 5 ms frame index for every output 5 ms frame (see the module docstring)."""
    src = np.asarray(src_durations, np.int64)
    new = np.maximum(np.asarray(new_durations, np.int64), 0)
    if src.shape != new.shape:
        raise ValueError(f"{len(src)} source durations but {len(new)} new durations")
    starts = np.r_[0, np.cumsum(src)[:-1]] * PER_UNIT
    parts = []
    for a, d_src, d_new in zip(starts, src * PER_UNIT, new * PER_UNIT, strict=True):
        if d_new:
            parts.append(a + np.floor(np.arange(d_new) * (d_src / d_new)).astype(np.int64))
    idx = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    return np.clip(idx, 0, n_world - 1)


def contour(f0_units: np.ndarray, voiced: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """5 ms F0 from a 20 ms prediction: the prediction on ``voiced`` frames (see the module docstring)."""
    pred = np.repeat(np.asarray(f0_units, np.float64), PER_UNIT)
    n = len(voiced)
    pred = np.pad(pred, (0, max(0, n - len(pred))), mode="edge")[:n] if len(pred) else np.zeros(n)
    good = pred >= VOICED_HZ
    if not good.any():
        return np.where(voiced, fallback, 0.0)
    pos = np.arange(n)
    filled = np.interp(pos, pos[good], pred[good])
    return np.where(voiced, filled, 0.0)


def render(analysis: WorldFeatures, src_durations: np.ndarray, new_durations: np.ndarray,
           f0_units: np.ndarray | None) -> np.ndarray:
    """Waveform (float32, ``analysis.sr``) of the source with ``new_durations`` and ``f0_units``.

    Parameters
    ----------
    analysis : WORLD analysis of the source.
    src_durations, new_durations : per unit run, in 20 ms frames (same length).
    f0_units : F0 per output 20 ms frame (``sum(new_durations)`` values, Hz), or None to keep the
        warped source F0.
    """
    pw = _pyworld()
    idx = warp_index(src_durations, new_durations, len(analysis.f0))
    src_f0 = analysis.f0[idx]
    voiced = src_f0 > 0
    f0 = src_f0 if f0_units is None else contour(f0_units, voiced, src_f0)
    sp = np.ascontiguousarray(analysis.sp[idx])
    ap = np.ascontiguousarray(analysis.ap[idx])
    y = pw.synthesize(np.ascontiguousarray(f0, np.float64), sp, ap, analysis.sr, WORLD_PERIOD_MS)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    return (y / peak * 0.95 if peak > 0.99 else y).astype(np.float32)
