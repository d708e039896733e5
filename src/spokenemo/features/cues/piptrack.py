"""``librosa.piptrack`` restricted to the bins that can hold a pitch, one pitch per frame.

librosa's algorithm (librosa 0.11, ``librosa.core.pitch.piptrack``), on a magnitude spectrogram S:

1. reference per frame: ``ref = threshold * max(S)`` over *all* bins of the frame;
2. candidates: bins with ``fmin <= f < fmax`` that are local maxima of the thresholded spectrum
   ``S * (S > ref)`` along frequency (``x[k] > x[k-1]`` and ``x[k] >= x[k+1]``);
3. parabolic interpolation on the raw magnitudes:
   ``a = S[k+1] + S[k-1] - 2 S[k]``, ``b = (S[k+1] - S[k-1]) / 2``,
   ``shift = -b / a`` (0 when ``|b| >= |a|``), ``pitch = (k + shift) * sr / n_fft``,
   ``magnitude = S[k] + 0.5 * b * shift`` (``b`` is ``np.gradient`` at an inner bin).

librosa does steps 2-3 on every bin of every frame and returns two (bins x frames) arrays; the
cue pipeline then keeps one value per frame. Here steps 2-3 run on the few bins of the pitch range
only (34 of 513 at 65-600 Hz), with librosa's precisions (float32 magnitudes, the interpolation in
float64 and stored as float32), so the result equals "the pitch of the strongest piptrack bin in
each frame" computed with librosa on the same spectrogram (``tests/test_cues_pitch.py`` checks it
on real clips).
"""

from __future__ import annotations

from typing import Literal

import numpy as np


def pitch_bins(sr: int, n_fft: int, fmin: float, fmax: float) -> tuple[int, int]:
    """First and last FFT bin with ``fmin <= f < fmax`` (librosa's mask), as ``(lo, hi)``.

    Raises
    ------
    ValueError
        No bin lies in the range, or the range touches bin 0 / the Nyquist bin (whose
        neighbours the interpolation needs).
    """
    freqs = np.arange(n_fft // 2 + 1) * (float(sr) / n_fft)
    inside = np.flatnonzero((freqs >= fmin) & (freqs < fmax))
    if inside.size == 0:
        raise ValueError(f"no FFT bin between fmin {fmin} Hz and fmax {fmax} Hz at sr {sr}, n_fft {n_fft}")
    lo, hi = int(inside[0]), int(inside[-1])
    if lo < 1 or hi > freqs.size - 2:
        raise ValueError(f"pitch range {fmin}-{fmax} Hz must exclude 0 Hz and the Nyquist frequency")
    return lo, hi


def piptrack_pitch(
    S: np.ndarray,
    *,
    sr: int,
    n_fft: int,
    fmin: float,
    fmax: float,
    threshold: float = 0.1,
    pick: Literal["strongest", "lowest"] = "strongest",
    frame_max: np.ndarray | None = None,
) -> np.ndarray:
    """One piptrack pitch per frame.

    Parameters
    ----------
    S : np.ndarray [shape=(n_frames, n_fft // 2 + 1)]
        Magnitude spectrogram, *time-major* (frames in rows). float32 for librosa parity.
    sr, n_fft : int
        Sample rate and FFT size that produced ``S``.
    fmin, fmax : float
        Pitch range in Hz (``fmin <= f < fmax``).
    threshold : float
        Fraction of the frame's largest magnitude a candidate must exceed.
    pick : {"strongest", "lowest"}
        ``strongest``: the candidate with the largest interpolated magnitude (``argmax`` of
        piptrack's magnitudes; ties go to the lower bin, as ``np.argmax``). ``lowest``: the
        lowest-frequency candidate.
    frame_max : np.ndarray [shape=(n_frames,)], optional
        ``S.max(axis=1)`` when the caller already has it.

    Returns
    -------
    pitch : np.ndarray [shape=(n_frames,), dtype=float32]
        Hz; 0 where the frame has no candidate.
    """
    lo, hi = pitch_bins(sr, n_fft, fmin, fmax)
    n_frames = S.shape[0]
    if n_frames == 0:
        return np.zeros(0, dtype=np.float32)
    if frame_max is None:
        frame_max = S.max(axis=1)
    ref = (threshold * frame_max).astype(S.dtype, copy=False)[:, None]
    band = S[:, lo - 1:hi + 2]                      # the range plus one neighbour on each side
    gated = band * (band > ref)
    mid, left, right = gated[:, 1:-1], gated[:, :-2], gated[:, 2:]
    peaks = (mid > left) & (mid >= right)

    x0, xm, xp = band[:, 1:-1], band[:, :-2], band[:, 2:]
    # librosa's numba stencil: float32 sums, then float64 as soon as an integer constant enters
    a = (xp + xm).astype(np.float64) - 2 * x0.astype(np.float64)
    b = (xp - xm).astype(np.float64) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(np.abs(b) >= np.abs(a), 0.0, -b / a).astype(np.float32)
    grad = (xp - xm) / np.float32(2.0)               # np.gradient at inner bins, float32 like S
    mags = np.where(peaks, x0 + np.float32(0.5) * grad * shift, np.float32(0.0))

    has_peak = peaks.any(axis=1)
    if pick == "strongest":
        k = mags.argmax(axis=1)
    elif pick == "lowest":
        k = peaks.argmax(axis=1)
    else:
        raise ValueError(f"pick must be 'strongest' or 'lowest', got {pick!r}")
    rows = np.arange(n_frames)
    pitch = ((lo + k + shift[rows, k]) * (float(sr) / n_fft)).astype(np.float32)
    pitch[~has_peak] = 0.0
    return pitch
